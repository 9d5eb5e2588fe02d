"""The small error hierarchy. Every error a user can fix says what to do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class SafetyscopeError(Exception):
    """Base class of every error safetyscope raises on purpose."""

    exit_code = 1


class UsageError(SafetyscopeError):
    """A bad flag, spec or option combination (exit code 2)."""

    exit_code = 2


class PrerequisiteError(SafetyscopeError):
    """Something the user must install or provide first (a package, a file, an API key)."""

    exit_code = 2


class DatasetError(SafetyscopeError):
    """A dataset file that does not match its format; names the file, line and field."""

    exit_code = 2

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, field: str | None = None):
        self.path = Path(path)
        self.line = line
        self.field = field
        self.detail = message
        where = str(self.path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class TargetError(SafetyscopeError):
    """A target call that failed. `retryable` tells the runner whether backing off may help."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after_s: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class StoreError(SafetyscopeError):
    """The results store cannot be opened or is in an unexpected state."""


class AttackError(Exception):
    """An attack could not produce what to send (its attacker model failed, timed out or returned nothing).

    Deliberately not a :class:`SafetyscopeError`: the runner records it on its attempt as an *attack error*
    (never as a refusal by the target) and the run goes on; the attempt stays retryable on resume."""


def validation_problems(exc: ValidationError, *, root: str = "", quoted: bool = False) -> str:
    """A pydantic validation error on one line: ``a.b: message; c: message`` (``root`` names an error on the
    whole object; ``quoted`` writes ``field 'a.b': message``)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or root
        parts.append(f"field '{where}': {err['msg']}" if quoted else f"{where}: {err['msg']}")
    return "; ".join(parts)

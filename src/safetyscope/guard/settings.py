"""Service settings of ``guard serve``: upstream, keys, limits, retention, logging. YAML (``--config``) < flags.

::

    upstream: http://127.0.0.1:8000/v1   # OpenAI-compatible server behind POST /v1/chat/completions
    upstream_api_key_env: UPSTREAM_KEY   # environment variable holding the upstream's key (never in the file)
    upstream_timeout_s: 120
    upstream_retries: 1                  # retries of connection errors and 429/5xx (backoff, Retry-After)
    require_key: false                   # keys are required anyway as soon as one was ever created
    open_feedback: false                 # without keys, accept POST /v1/feedback from anyone (off: 403)
    max_body_bytes: 1000000
    max_messages: 256
    max_content_chars: 200000
    retention_days: 30                   # delete decisions older than this (null: keep forever)
    purge_interval_s: 3600
    log_text: false                      # write prompt/response text to the log (off by default)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from safetyscope.core.config import read_yaml_mapping
from safetyscope.core.errors import UsageError, validation_problems

MAX_MESSAGES = 256
MAX_CONTENT_CHARS = 200_000


class ServiceSettings(BaseModel):
    """Everything ``guard serve`` needs besides policies and the store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upstream: str | None = Field(default=None, pattern=r"^https?://", description="Upstream base URL (…/v1).")
    upstream_api_key_env: str | None = Field(default=None, description="Env variable with the upstream's key.")
    upstream_timeout_s: float = Field(default=120.0, gt=0)
    upstream_retries: int = Field(default=1, ge=0, le=5, description="Retries of retryable upstream failures.")
    require_key: bool = False
    open_feedback: bool = Field(default=False, description="Accept unauthenticated feedback when no keys exist.")
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_messages: int = Field(default=MAX_MESSAGES, ge=1, le=MAX_MESSAGES)
    max_content_chars: int = Field(default=MAX_CONTENT_CHARS, ge=1, le=MAX_CONTENT_CHARS)
    retention_days: float | None = Field(default=None, gt=0)
    purge_interval_s: float = Field(default=3600.0, gt=0)
    log_text: bool = False

    @property
    def chat_url(self) -> str | None:
        """The upstream's chat completions URL."""
        return None if self.upstream is None else self.upstream.rstrip("/") + "/chat/completions"


def load_settings(path: Path | None, **overrides: Any) -> ServiceSettings:
    """Settings from a YAML file (optional) with ``overrides`` (flags; None means "not given") on top."""
    data: dict[str, Any] = {}
    source = "service settings"
    if path is not None:
        source = str(path)
        data.update(read_yaml_mapping(path, "service settings"))
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return ServiceSettings.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: invalid settings: {validation_problems(exc, quoted=True)}") from None

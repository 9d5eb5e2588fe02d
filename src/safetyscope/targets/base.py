"""The async Target protocol and the provider registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from safetyscope.core.builtins import load_components
from safetyscope.core.errors import UsageError
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.core.registry import Registry


@runtime_checkable
class Target(Protocol):
    """A model under test. Implementations raise TargetError on failure (retryable or not)."""

    @property
    def spec(self) -> ComponentSpec:
        """Identity used in cache keys and stored with every response."""
        ...

    @property
    def max_in_flight(self) -> int | None:
        """A hard cap on concurrent calls this backend supports (None: the runner's bound applies)."""
        ...

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        """Answer ``messages``."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads or model memory."""
        ...


class BaseTarget:
    """Shared plumbing for targets: a fixed spec, no concurrency cap of its own, nothing to release."""

    def __init__(self, spec: ComponentSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> ComponentSpec:
        return self._spec

    @property
    def max_in_flight(self) -> int | None:
        return None

    async def aclose(self) -> None:
        return None


target_providers: Registry[Target] = Registry("target provider")


def split_address(address: str) -> tuple[str, str]:
    """``'openai/gpt-4o'`` → ``('openai', 'gpt-4o')``; the name may itself contain slashes. A wrapper address
    ``provider:rest`` (a colon before the first slash, e.g. ``guarded:default:mock/complier``) gives
    ``('guarded', 'default:mock/complier')``."""
    head = address.split("/", 1)[0]
    if ":" in head:
        provider, _, name = address.partition(":")
        if provider and name:
            return provider, name
    provider, sep, name = address.partition("/")
    if not sep or not provider or not name:
        raise UsageError(f"target '{address}' must look like provider/name, e.g. embedded/smollm2-135m")
    return provider, name


def create_target(address: str, options: dict[str, Any] | None = None) -> Target:
    """Build the target at ``address`` (``provider/name``) with provider-specific ``options``."""
    load_components()
    provider, name = split_address(address)
    return target_providers.create(provider, name=name, **(options or {}))


def with_system_prompt(messages: Sequence[Message], params: GenerationParams) -> list[Message]:
    """Prepend the configured system prompt unless the conversation already starts with one."""
    if params.system_prompt is None or (messages and messages[0].role == "system"):
        return list(messages)
    return [Message(role="system", content=params.system_prompt), *messages]

"""The Attack protocol, the registry, composition (``a+b``) and the identity attack ``none``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from safetyscope.core.builtins import load_components
from safetyscope.core.errors import UsageError
from safetyscope.core.records import ComponentSpec, Message, Sample
from safetyscope.core.registry import Registry


@runtime_checkable
class Attack(Protocol):
    """Turns a sample's messages into the messages sent; ``decode`` undoes any encoding of the reply."""

    @property
    def spec(self) -> ComponentSpec:
        """Identity stored with every attempt."""
        ...

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        """The messages to send. Must be a pure function of (messages, sample, seed)."""
        ...

    def decode(self, response: str) -> str:
        """The reply in plain language, for the judge."""
        ...


attacks: Registry[Attack] = Registry("attack")

ALL_DETERMINISTIC = "all-deterministic"
"""Pseudo-spec that :func:`expand_attack_specs` expands into every registered deterministic attack."""

_deterministic: set[str] = set()
_Factory = TypeVar("_Factory", bound=Callable[..., Attack])


def register_deterministic(name: str, *, description: str) -> Callable[[_Factory], _Factory]:
    """Like ``attacks.register``, and marks the attack deterministic: model-free, no network, a pure
    function of (messages, sample, seed). Such attacks are what ``all-deterministic`` expands to."""

    def decorate(factory: _Factory) -> _Factory:
        attacks.register(name, description=description)(factory)
        _deterministic.add(name)
        return factory

    return decorate


def is_deterministic(name: str) -> bool:
    """Whether the registered attack ``name`` was registered with :func:`register_deterministic`."""
    return name in _deterministic


def deterministic_attack_names() -> list[str]:
    """Every registered deterministic attack, sorted (the identity ``none`` is not among them)."""
    load_components()
    return [entry.name for entry in attacks if entry.name in _deterministic]


def expand_attack_specs(specs: Sequence[str]) -> list[str]:
    """Expand the pseudo-spec ``all-deterministic`` in place; other specs pass through. Duplicates are
    dropped (first occurrence kept), so ``["none", "all-deterministic"]`` is the baseline plus every
    deterministic attack once."""
    expanded: list[str] = []
    for spec in specs:
        spec = spec.strip()
        if spec == ALL_DETERMINISTIC:
            names = deterministic_attack_names()
        elif ALL_DETERMINISTIC in (part.strip() for part in spec.split("+")):
            raise UsageError(f"'{ALL_DETERMINISTIC}' cannot be composed with '+' (in '{spec}')")
        else:
            names = [spec]
        expanded.extend(name for name in names if name not in expanded)
    return expanded


async def decode_reply(attack: Attack, response: str) -> str:
    """The reply in plain language for the judge: an attack that needs a model to decode (e.g. translating a
    low-resource-language reply back) defines ``async def adecode``; every other attack decodes with ``decode``."""
    adecode = getattr(attack, "adecode", None)
    if adecode is not None:
        decoded: str = await adecode(response)
        return decoded
    return attack.decode(response)


class NoAttack:
    """Sends the sample as it is."""

    spec = ComponentSpec(kind="attack", name="none")

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        return tuple(messages)

    def decode(self, response: str) -> str:
        return response


@attacks.register("none", description="No attack: send the sample's own messages.")
def create_no_attack() -> NoAttack:
    return NoAttack()


class ComposedAttack:
    """``a+b``: applies ``a`` then ``b``; decodes with ``b`` then ``a``."""

    def __init__(self, parts: Sequence[Attack]) -> None:
        self._parts = tuple(parts)
        self._spec = ComponentSpec(kind="attack", name="+".join(p.spec.name for p in parts),
                                   options={"parts": [p.spec.model_dump() for p in parts]})

    @property
    def spec(self) -> ComponentSpec:
        return self._spec

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        current = tuple(messages)
        for index, part in enumerate(self._parts):
            current = await part.apply(current, sample, seed=seed + index)
        return current

    def decode(self, response: str) -> str:
        for part in reversed(self._parts):
            response = part.decode(response)
        return response

    async def adecode(self, response: str) -> str:
        for part in reversed(self._parts):
            response = await decode_reply(part, response)
        return response

    async def aclose(self) -> None:
        """Release what the parts hold (a model-driven part's attacker model)."""
        await close_all(self._parts)


async def close_all(attacks: Sequence[Attack]) -> None:
    """Close every attack that holds something (``aclose``); each is closed even when another fails, and the
    first failure is raised at the end."""
    failure: BaseException | None = None
    for attack in attacks:
        close = getattr(attack, "aclose", None)
        if close is None:
            continue
        try:
            await close()
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def create_attack(spec: str, options: dict[str, Any] | None = None) -> Attack:
    """``'none'``, a registered name, or names joined by ``+`` (options apply to single attacks only)."""
    load_components()
    names = [name.strip() for name in spec.split("+")]
    if any(not name for name in names):
        raise UsageError(f"bad attack spec '{spec}': use names joined by '+', e.g. base64+role_play")
    if len(names) == 1:
        return attacks.create(names[0], **(options or {}))
    if options:
        raise UsageError("attack options apply to a single attack, not a composition")
    parts = [attacks.create(name) for name in names]
    for name, part in zip(names, parts, strict=True):
        if callable(getattr(part, "converse", None)):  # multi-turn: it talks to the target itself
            raise UsageError(f"'{name}' is a multi-turn attack and cannot be composed with '+' (in '{spec}'): "
                             "run it as an attack of its own")
    return ComposedAttack(parts)

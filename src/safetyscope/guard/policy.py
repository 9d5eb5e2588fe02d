"""Guard policies: YAML, versioned, validated with pydantic.

A policy says which canonical hazards are blocked or allowed, adds free-text custom categories, sets the
block threshold and fail mode, and lists the experts (registered judges with options and a timeout each)::

    name: support-bot
    version: "3"
    allowed: [spc]                 # specialised advice is fine here
    blocked: all                   # every other canonical hazard (the default)
    custom_categories:
      - {name: Competitor talk, description: "Discussing competitors' products.", action: block}
    threshold: 0.5
    fail_mode: closed              # closed (block) | open (allow) | review, when no expert answers
    store_text: false              # store a hash of the text instead of the text
    safety_config: |               # CoSA-style: prepended to the guarded model's system prompt
      Medical questions may be answered in general terms; never give dosages.
    experts:
      - {name: lg3-prompt, judge: llama-guard-3, directions: [input], timeout_s: 30,
         options: {side: prompt, target: "openai/llama-guard-3", target_options: {base_url: "http://..."}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safetyscope.core.config import read_yaml_mapping
from safetyscope.core.errors import UsageError, validation_problems
from safetyscope.core.hashing import content_hash
from safetyscope.guard.conformal import ConformalCalibration
from safetyscope.taxonomy.canonical import BENIGN, CANONICAL_HAZARDS, canonical_code

Direction = Literal["input", "output"]
HAZARD_CODES: tuple[str, ...] = tuple(code for code in CANONICAL_HAZARDS if code != BENIGN)
CUSTOM_CATEGORY_JUDGES = frozenset({"llama-guard-1", "llama-guard-2", "llama-guard-3", "llama-guard-4"})
"""Judges whose category list the policy's custom categories are appended to."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpertSpec(_Model):
    """One expert: a registered judge, its options, where it applies and how long it may take."""

    name: str = Field(min_length=1, description="Unique within the policy; keys the expert's learned weight.")
    judge: str = Field(min_length=1, description="Registered judge name (see `safetyscope list judges`).")
    options: dict[str, Any] = Field(default_factory=dict, description="Judge options.")
    directions: tuple[Direction, ...] = Field(default=("input", "output"), min_length=1,
                                              description="Which side it judges: input (prompts), output.")
    timeout_s: float = Field(default=10.0, gt=0.0, description="Per-call timeout; a late expert is skipped.")


class CustomCategory(_Model):
    """A free-text category, described to experts that take a category list (the Llama Guard family)."""

    name: str = Field(min_length=1)
    description: str = ""
    action: Literal["block", "allow"] = "block"


class GuardPolicy(_Model):
    """A complete guard policy; see the module docstring."""

    name: str = Field(default="default", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    version: str = Field(default="1", min_length=1)
    description: str = ""
    blocked: tuple[str, ...] | Literal["all"] = Field(
        default="all", description="Canonical hazards that block; 'all' = every hazard not allowed.")
    allowed: tuple[str, ...] = Field(default=(), description="Canonical hazards that are allowed.")
    unlisted_action: Literal["block", "allow"] = Field(
        default="block", description="For an unsafe verdict whose hazards are in neither list, or none named.")
    custom_categories: tuple[CustomCategory, ...] = ()
    safety_config: str | None = Field(
        default=None, description="CoSA-style safety config: free text that the guarded model receives as (the "
                                  "start of) its system prompt, through the proxy and the guarded: target.")
    threshold: float = Field(default=0.5, gt=0.0, le=1.0, description="Block when P̂(unsafe) ≥ threshold.")
    use_probabilities: bool = Field(default=True, description="Use an expert's P(unsafe) when it reports one.")
    fail_mode: Literal["closed", "open", "review"] = Field(
        default="closed", description="Action when no expert gives a verdict.")
    store_text: bool = Field(default=True, description="Store the judged text; false stores only its hash.")
    hedge_horizon: int | None = Field(default=None, ge=1, description="Known feedback horizon T for Hedge.")
    conformal: ConformalCalibration | None = Field(default=None, description="Split-conformal threshold.")
    experts: tuple[ExpertSpec, ...] = Field(min_length=1)

    @field_validator("allowed")
    @classmethod
    def _allowed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _hazards(value, "allowed")

    @field_validator("blocked")
    @classmethod
    def _blocked(cls, value: tuple[str, ...] | str) -> tuple[str, ...] | Literal["all"]:
        if value == "all":
            return "all"
        if isinstance(value, str):
            raise ValueError("blocked must be 'all' or a list of canonical hazard codes")
        return _hazards(value, "blocked")

    @model_validator(mode="after")
    def _consistent(self) -> GuardPolicy:
        if self.blocked != "all":
            both = set(self.blocked) & set(self.allowed)
            if both:
                raise ValueError(f"hazards both blocked and allowed: {', '.join(sorted(both))}")
        names = [expert.name for expert in self.experts]
        if len(set(names)) != len(names):
            raise ValueError("expert names must be unique")
        custom = [category.name.lower() for category in self.custom_categories]
        if len(set(custom)) != len(custom):
            raise ValueError("custom category names must be unique")
        return self

    @property
    def blocked_hazards(self) -> frozenset[str]:
        """The hazards that block."""
        if self.blocked == "all":
            return frozenset(HAZARD_CODES) - set(self.allowed)
        return frozenset(self.blocked)

    @property
    def digest(self) -> str:
        """Content hash of the whole policy (stored with every decision, beside ``version``)."""
        return content_hash(self.model_dump(mode="json"))

    def experts_for(self, direction: Direction) -> tuple[ExpertSpec, ...]:
        """The experts that judge ``direction``."""
        return tuple(expert for expert in self.experts if direction in expert.directions)


def _hazards(values: tuple[str, ...], field: str) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        code = canonical_code(value)
        if code is None or code == BENIGN:
            raise ValueError(f"{field}: unknown canonical hazard {value!r} (known: {', '.join(HAZARD_CODES)})")
        out.append(code)
    return tuple(dict.fromkeys(out))


def default_policy() -> GuardPolicy:
    """The built-in offline policy: pure-Python judges only, so it runs on a fresh machine with no network.

    Input side: ``prompt-harm`` (is the request harmful, which hazard). Output side: ``exchange-harm``
    (harmful request × a response that carried it out). Both are logistic regressions on hand-built and word
    features (well under a millisecond each); docs/prompt-judge.md has their cross-validated figures, including the
    over-flag rate on XSTest's safe look-alikes. For stronger experts (Llama Guard, ShieldGemma, …) write a
    policy that points them at a served guard model.
    """
    return GuardPolicy(
        name="default", version="2",
        description="Offline default: prompt-harm on input, exchange-harm on output (pure Python, no model).",
        experts=(
            ExpertSpec(name="prompt-harm", judge="prompt-harm", directions=("input",), timeout_s=5.0,
                       options={"prompt_only": True}),
            ExpertSpec(name="exchange-harm", judge="exchange-harm", directions=("output",), timeout_s=5.0),
        ))


def parse_policy(data: Any, *, source: str = "policy") -> GuardPolicy:
    """Validate a policy mapping; errors name the source and field."""
    if not isinstance(data, dict):
        raise UsageError(f"{source}: a policy must be a mapping")
    try:
        return GuardPolicy.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: invalid guard policy: {validation_problems(exc, root='(policy)')}") from None


def load_policy(path: str | Path) -> GuardPolicy:
    """Read and validate a YAML policy file."""
    file = Path(path)
    return parse_policy(read_yaml_mapping(file, "policy"), source=str(file))


def dump_policy(policy: GuardPolicy) -> str:
    """The policy as YAML (round-trips through :func:`parse_policy`)."""
    return yaml.safe_dump(policy.model_dump(mode="json", exclude_defaults=True), sort_keys=False)


def resolve_policy(spec: str) -> GuardPolicy:
    """``default`` → the built-in policy; anything else is a path to a policy YAML file."""
    if spec == "default":
        return default_policy()
    if not spec:
        raise UsageError("a guard policy must be 'default' or a path to a policy YAML file")
    return load_policy(spec)


def with_safety_config(config: str | None, system_prompt: str | None) -> str | None:
    """The system prompt the guarded model gets: the policy's safety config first, then the caller's own system
    prompt (CoSA's configurable safety: the deployment's config travels in the system prompt)."""
    if not config:
        return system_prompt
    return config if not system_prompt else f"{config}\n\n{system_prompt}"

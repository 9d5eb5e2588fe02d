"""The run spec: one config object, resolved once (defaults < YAML file < environment < CLI flags)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from safetyscope.core.errors import UsageError, validation_problems
from safetyscope.core.records import GenerationParams

DEFAULT_TARGET = "embedded/smollm2-135m"
DEFAULT_OUTPUT_DIR = Path("safetyscope-results")
STORE_ENV = "SAFETYSCOPE_STORE"


class RunSpec(BaseModel):
    """Everything that defines a run. Stored with the run, so ``--resume`` rebuilds it exactly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(default=DEFAULT_TARGET, description="provider/name of the model under test.")
    base_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the API key.")
    target_options: dict[str, Any] = Field(default_factory=dict, description="Provider-specific options.")
    dataset: str = Field(default="starter", description="Built-in suite, named benchmark (NAME[:SUBSET]) or path "
                                                         "to a .jsonl/.csv file.")
    limit: int | None = Field(default=None, ge=1, description="Evaluate a seeded uniform sample of N items.")
    per_hazard: int | None = Field(default=None, ge=1, description="Evaluate N seeded-uniform items per hazard "
                                                                   "(benign and unmapped are strata too).")
    seed: int = Field(default=0, description="Seed for sampling and attacks.")
    attacks: tuple[str, ...] = Field(default=("none",), description="Attack specs; each sample runs under each.")
    attack_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Options per attack name, e.g. {'pair': {'budget': 4, 'attacker': "
                                          "'openai/gpt-4o-mini'}}.")
    judge: str = Field(default="refusal", description="Registered judge name.")
    judge_options: dict[str, Any] = Field(default_factory=dict, description="Judge-specific options.")
    generation: GenerationParams = Field(default_factory=GenerationParams,
                                         description="Decoding settings sent with every call.")
    requests_in_flight: int = Field(default=16, ge=1, description="Bound on concurrent target calls.")
    samples_in_flight: int = Field(default=64, ge=1, description="Bound on samples being processed at once.")
    timeout_s: float = Field(default=120.0, gt=0, description="Per-call timeout.")
    max_retries: int = Field(default=4, ge=0, description="Retries on 429, 5xx, timeouts and connection errors.")
    abort_after_failures: int = Field(
        default=10, ge=1, description="Stop (incomplete, resumable) after this many consecutive failures.")
    store: str | None = Field(default=None,
                              description="SQLite path or database URL; default OUTPUT_DIR/results.sqlite.")
    output_dir: Path = Field(default=DEFAULT_OUTPUT_DIR, description="Where summaries are written.")
    name: str | None = Field(default=None, description="A label for the run.")

    @field_validator("attacks", mode="before")
    @classmethod
    def _split_attacks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def resolved_target_options(self) -> dict[str, Any]:
        """Provider options with ``base_url`` / ``api_key_env`` folded in."""
        options = dict(self.target_options)
        if self.base_url is not None:
            options["base_url"] = self.base_url
        if self.api_key_env is not None:
            options["api_key_env"] = self.api_key_env
        return options

    def store_location(self) -> str:
        """The store as given, else ``OUTPUT_DIR/results.sqlite``."""
        return self.store or str(self.output_dir / "results.sqlite")


def store_location(store: str | None, output_dir: Path = DEFAULT_OUTPUT_DIR,
                   environ: Mapping[str, str] | None = None) -> str:
    """The store for commands that read results: the flag, else ``SAFETYSCOPE_STORE``, else
    ``OUTPUT_DIR/results.sqlite`` (the same precedence ``run`` uses)."""
    env = os.environ if environ is None else environ
    return store or env.get(STORE_ENV) or str(output_dir / "results.sqlite")


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file is ``{}``); every error names the file and ``what`` it
    is (a run spec, a policy, service settings)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"cannot read {what} {path}: it does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path} must be a mapping of fields, got {type(data).__name__}")
    return data


def load_spec_file(path: Path) -> dict[str, Any]:
    """Read a YAML run spec into a plain mapping (validated later, with the overrides applied)."""
    return read_yaml_mapping(path, "run spec")


def resolve_spec(*, file_values: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None, source: str = "run spec") -> RunSpec:
    """Merge defaults < file < environment < overrides (None values in overrides are ignored)."""
    merged: dict[str, Any] = dict(file_values or {})
    env = os.environ if environ is None else environ
    if env.get(STORE_ENV):
        merged["store"] = env[STORE_ENV]
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "generation":
            merged["generation"] = {**dict(merged.get("generation") or {}), **value}
        else:
            merged[key] = value
    try:
        return RunSpec.model_validate(merged)
    except ValidationError as exc:
        raise UsageError(f"{source}: {validation_problems(exc, root='(root)')}") from None

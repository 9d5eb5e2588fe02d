"""Model-driven single-turn attacks: an attacker model rewrites the last user turn.

:class:`ModelRewriteAttack` is the base (options, spec, seeded call, output extraction); :class:`TemplateRewrite`
fills one prompt from ``data/model_rewrites.yaml``. Registered here: ``paraphrase``, and ``past_tense`` /
``future_tense`` (Andriushchenko & Flammarion 2024). None is deterministic, so ``all-deterministic`` skips them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from safetyscope.attacks._common import last_user_index
from safetyscope.attacks.attacker import DEFAULT_ATTACKER, Attacker, usable_rewrite
from safetyscope.attacks.base import attacks
from safetyscope.core import resources
from safetyscope.core.errors import AttackError, UsageError
from safetyscope.core.records import ComponentSpec, Message, Sample
from safetyscope.core.text import fill
from safetyscope.targets.base import Target

PROMPTS_FILE = "model_rewrites.yaml"


def rewrite_prompts() -> dict[str, Any]:
    """The rewrite prompts (``safetyscope/attacks/data/model_rewrites.yaml``)."""
    data: dict[str, Any] = resources.read_yaml("safetyscope.attacks", PROMPTS_FILE)
    return data


def render_examples(template: str, examples: Sequence[Mapping[str, str]]) -> str:
    """Worked examples, each filled into ``template``, separated by blank lines."""
    return "\n\n".join(fill(template, **example) for example in examples)


class ModelRewriteAttack:
    """Base of the model-driven rewrites. Subclasses implement :meth:`render` (the attacker's prompt) and may
    override :meth:`extract` (reading the rewrite out of the reply) and :meth:`spec_options`.

    Options (all in the spec except ``timeout_s`` and ``max_retries``): ``attacker`` (a target address or a
    ready target; default the embedded model), ``attacker_options`` (provider options), ``temperature``
    (default: the class default on backends that honour a seed, else 0), ``max_tokens``.
    """

    default_temperature: ClassVar[float] = 0.7
    default_max_tokens: ClassVar[int] = 256

    def __init__(self, name: str, *, attacker: str | Target = DEFAULT_ATTACKER,
                 attacker_options: dict[str, Any] | None = None, temperature: float | None = None,
                 max_tokens: int | None = None, timeout_s: float = 120.0, max_retries: int = 3) -> None:
        self.name = name
        self.attacker = Attacker(attacker, options=attacker_options, timeout_s=timeout_s, max_retries=max_retries)
        if temperature is None:
            temperature = self.default_temperature if self.attacker.honours_seed else 0.0
        if temperature < 0:
            raise UsageError(f"attack '{name}': temperature must be >= 0, not {temperature}")
        if max_tokens is not None and max_tokens < 1:
            raise UsageError(f"attack '{name}': max_tokens must be at least 1, not {max_tokens}")
        self.temperature = float(temperature)
        self.max_tokens = max_tokens or self.default_max_tokens
        self.prompts = rewrite_prompts()
        self.stop: tuple[str, ...] = ()
        """Stop sequences: where the attacker would go on with another worked example (set by subclasses)."""

    def spec_options(self) -> dict[str, Any]:
        """Attack-specific options that change the messages (subclasses extend)."""
        return {}

    @property
    def spec(self) -> ComponentSpec:
        """Name, attacker model, generation settings and the prompt-file version."""
        options = {**self.attacker.spec_options(), "temperature": self.temperature, "max_tokens": self.max_tokens,
                   "prompts_version": self.prompts["version"], **self.spec_options()}
        return ComponentSpec(kind="attack", name=self.name, options=options)

    @property
    def what(self) -> str:
        return f"attack '{self.name}'"

    def render(self, prompt: str) -> str:
        """The attacker's prompt for rewriting ``prompt``."""
        raise NotImplementedError

    def extract(self, reply: str, prompt: str) -> str:
        """The rewrite in the attacker's ``reply``; :class:`AttackError` when there is none."""
        return usable_rewrite(reply, prompt, what=self.what, stop=self.stop)

    async def rewrite(self, prompt: str, *, seed: int) -> str:
        """One seeded rewrite of ``prompt`` (cached per attacker, prompt and seed)."""
        request = (Message(role="user", content=self.render(prompt)),)
        params = self.attacker.params(seed=seed, temperature=self.temperature, max_tokens=self.max_tokens,
                                      stop=self.stop)
        return self.extract(await self.attacker.complete(request, params, what=self.what), prompt)

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        turns = tuple(messages)
        index = last_user_index(turns)
        if index is None:
            raise AttackError(f"{self.what} needs a user turn to rewrite; this sample has none")
        rewritten = await self.rewrite(turns[index].content, seed=seed)
        return (*turns[:index], Message(role="user", content=rewritten), *turns[index + 1:])

    def decode(self, response: str) -> str:
        return response

    async def aclose(self) -> None:
        await self.attacker.aclose()


class TemplateRewrite(ModelRewriteAttack):
    """The request filled into one fixed prompt (``values`` fill its other placeholders)."""

    def __init__(self, name: str, template: str, values: Mapping[str, str], *, stop: Sequence[str] = (),
                 **options: Any) -> None:
        super().__init__(name, **options)
        self.template = template
        self.values = dict(values)
        self.stop = tuple(stop)

    def render(self, prompt: str) -> str:
        return fill(self.template, **self.values, prompt=prompt.strip())


def create_tense_rewrite(tense: str, **options: Any) -> TemplateRewrite:
    """``past_tense`` or ``future_tense``: the request as a question about how it was / will be done."""
    prompts = rewrite_prompts()
    entry = prompts["tenses"][tense]
    values = {"tense": entry["tense"], "tense_name": entry["tense_name"], "verb": entry["verb"],
              "examples": render_examples(prompts["tense_example"], entry["examples"])}
    return TemplateRewrite(f"{tense}_tense", prompts["tense_template"], values, stop=prompts["stops"]["tense"],
                           **options)


@attacks.register("paraphrase", description="Model-driven: an attacker model paraphrases the request "
                  "(same meaning, new wording); seeded.")
def create_paraphrase(**options: Any) -> TemplateRewrite:
    prompts = rewrite_prompts()
    return TemplateRewrite("paraphrase", prompts["paraphrase_template"], {}, stop=prompts["stops"]["paraphrase"],
                           **options)


@attacks.register("past_tense", description="Model-driven: the request rewritten as a past-tense question "
                  "(Andriushchenko & Flammarion 2024); seeded.")
def create_past_tense(**options: Any) -> TemplateRewrite:
    return create_tense_rewrite("past", **options)


@attacks.register("future_tense", description="Model-driven: the request rewritten as a future-tense question "
                  "(Andriushchenko & Flammarion 2024); seeded.")
def create_future_tense(**options: Any) -> TemplateRewrite:
    return create_tense_rewrite("future", **options)

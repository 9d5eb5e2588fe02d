"""Risk cards (RiskCards, Derczynski et al. 2023): one card per canonical hazard of a run.

Each card joins the hazard's descriptive fields (``report/data/riskcards.json``: description, harm types, actors,
requirements for the harm to happen), its categorisation in every seed taxonomy that covers it (the taxonomy
crosswalk), and what the run measured: raw attack success with its Wilson 95% interval, the judge-corrected rate
when the judge has a stored validation, the unsafe / safe / unscored tally, the attacks that worked and example
prompt-output pairs judged unsafe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from safetyscope.core.errors import DatasetError, UsageError
from safetyscope.metrics.correction import CorrectedRate
from safetyscope.metrics.scorecard import OVERALL, Rate, Scorecard
from safetyscope.report.attempts import AttemptView
from safetyscope.runner.store import RunRow
from safetyscope.taxonomy import BENIGN, CANONICAL_HAZARDS, TaxonomyCatalog, canonical_code

DATA_FILE = "riskcards.json"
EXAMPLES = 3


class HazardProfile(BaseModel):
    """The descriptive fields of one hazard's card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(min_length=1)
    harm_types: tuple[str, ...] = Field(min_length=1)
    actors: tuple[str, ...] = Field(min_length=1)
    requirements: tuple[str, ...] = Field(min_length=1)


class _ProfileFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    about: str
    hazards: dict[str, HazardProfile]


def load_profiles(text: str | None = None, *, source: str = DATA_FILE) -> dict[str, HazardProfile]:
    """The packaged hazard profiles (or ``text`` in the same format), one per canonical hazard except benign."""
    if text is None:
        text = resources.files("safetyscope.report").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    try:
        parsed = _ProfileFile.model_validate(orjson.loads(text))
    except orjson.JSONDecodeError as error:
        raise DatasetError(source, f"invalid JSON: {error}") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise DatasetError(source, first["msg"], field=where) from error
    expected = set(CANONICAL_HAZARDS) - {BENIGN}
    missing, extra = sorted(expected - set(parsed.hazards)), sorted(set(parsed.hazards) - expected)
    if missing or extra:
        raise DatasetError(source, f"hazards must be exactly the 12 canonical ones (missing: {missing or 'none'}, "
                           f"unknown: {extra or 'none'})", field="hazards")
    return dict(parsed.hazards)


@dataclass(frozen=True)
class Categorisation:
    """The codes of one taxonomy that cover the hazard."""

    taxonomy: str
    title: str
    codes: tuple[tuple[str, str, str], ...]  # (code, name, fit)


@dataclass(frozen=True)
class AttackResult:
    attack: str
    rate: Rate


@dataclass(frozen=True)
class Example:
    sample_id: str
    attack: str
    prompt: str
    sent: str
    output: str | None  # None when redacted
    verdict: str
    explanation: str


@dataclass
class RiskCard:
    """One hazard's card for one run."""

    hazard: str
    title: str
    group: str
    profile: HazardProfile
    categorisation: list[Categorisation]
    rate: Rate | None
    corrected: CorrectedRate | None
    tally: tuple[int, int, int]  # unsafe, safe, unscored (unscored includes errors; never counted as safe)
    best_of_n: Rate | None
    attacks: list[AttackResult]  # every attack with something scored, highest attack success first
    examples: list[Example] = field(default_factory=list)

    @property
    def worked(self) -> list[AttackResult]:
        """The attacks that succeeded at least once."""
        return [result for result in self.attacks if result.rate.hits > 0]


@dataclass(frozen=True)
class RiskCardSet:
    run: RunRow
    cards: list[RiskCard]
    redacted: bool
    correction_source: str | None


def select_hazards(card: Scorecard, hazard: str | None) -> list[str]:
    """The canonical hazards to make cards for: ``hazard`` alone, or every canonical hazard the run measured."""
    present = [code for code in card.hazards if code in CANONICAL_HAZARDS and code != BENIGN]
    if hazard is None:
        if not present:
            raise UsageError("the run has no unsafe prompts of a canonical hazard: no risk card to make")
        return present
    code = canonical_code(hazard)
    if code is None or code == BENIGN:
        known = ", ".join(c for c in CANONICAL_HAZARDS if c != BENIGN)
        raise UsageError(f"--hazard '{hazard}' is not a canonical hazard (known: {known})")
    if code not in present:
        raise UsageError(f"the run has no unsafe prompts of hazard '{code}' (measured: {', '.join(present) or 'none'})")
    return [code]


def categorise(hazard: str, catalog: TaxonomyCatalog) -> list[Categorisation]:
    """Every seed taxonomy's codes that map to ``hazard`` (exact or partial fit), in catalog order."""
    out = []
    for taxonomy in catalog.all():
        codes = []
        for code in taxonomy.codes:
            link = code.link(hazard)
            if link is not None:
                codes.append((code.code, code.name, link.fit))
        if codes:
            out.append(Categorisation(taxonomy=taxonomy.name, title=taxonomy.title, codes=tuple(codes)))
    return out


def build_cards(run: RunRow, card: Scorecard, views: Iterable[AttemptView], *, hazard: str | None = None,
                redact: bool = False, examples: int = EXAMPLES, catalog: TaxonomyCatalog | None = None,
                profiles: dict[str, HazardProfile] | None = None) -> RiskCardSet:
    """The risk cards of a run: rates and the unsafe / safe / unscored tally come from the scorecard (the
    scorecard's counting rules), examples from ``views``, the run's attempts (read until every card has some)."""
    hazards = select_hazards(card, hazard)
    profiles = profiles if profiles is not None else load_profiles()
    catalog = catalog or TaxonomyCatalog()
    targets = {}  # examples to find per hazard: at most one per prompt judged unsafe
    for code in hazards:
        broken = card.best_of_n.get(code) or card.attack_success.get((OVERALL, code))
        targets[code] = min(examples, broken.hits if broken else 0)
    found = _examples(views, targets, redact=redact)
    cards = []
    for code in hazards:
        info = CANONICAL_HAZARDS[code]
        attacks = [AttackResult(attack, rate) for attack in card.attacks
                   if (rate := card.attack_success.get((attack, code))) is not None and rate.scored]
        attacks.sort(key=lambda result: (-(result.rate.value or 0.0), result.attack))
        rate = card.attack_success.get((OVERALL, code))
        tally = (rate.hits, rate.scored - rate.hits, rate.unscored) if rate else (0, 0, 0)
        cards.append(RiskCard(
            hazard=code, title=f"{info.name} ({code})", group=info.group, profile=profiles[code],
            categorisation=categorise(code, catalog), rate=rate,
            corrected=card.corrected.get((OVERALL, code)), tally=tally,
            best_of_n=card.best_of_n.get(code), attacks=attacks, examples=found[code]))
    return RiskCardSet(run=run, cards=cards, redacted=redact, correction_source=card.correction_source)


def _examples(views: Iterable[AttemptView], targets: dict[str, int], *, redact: bool) -> dict[str, list[Example]]:
    """Up to ``targets[hazard]`` attempts judged unsafe per hazard, one per prompt; stops reading as soon as every
    hazard has its examples."""
    found: dict[str, list[Example]] = {code: [] for code in targets}
    missing = {code for code, wanted in targets.items() if wanted > 0}
    if not missing:
        return found
    iterator = iter(views)
    try:
        for view in iterator:
            chosen = found.get(view.hazard)
            if chosen is None or view.expect != "refuse" or not view.outcome or len(chosen) >= targets[view.hazard]:
                continue
            if all(example.sample_id != view.sample_id for example in chosen):
                chosen.append(_example(view, redact=redact))
                if len(chosen) >= targets[view.hazard]:
                    missing.discard(view.hazard)
                    if not missing:
                        break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # release the store's streaming cursor when stopping early
    return found


def _example(view: AttemptView, *, redact: bool) -> Example:
    output = view.decoded_response or view.response or ""
    return Example(sample_id=view.sample_id, attack=view.attack, prompt=view.prompt, sent=view.sent,
                   output=None if redact else output, verdict=view.verdict,
                   explanation=view.explanation or view.unscored_reason or "")

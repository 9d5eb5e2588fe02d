"""Judge agreement when several judges scored the same responses.

Responses are content-addressed, so running the same target on the same dataset with another judge (or
re-judging) stores a second verdict for the very same response. For a run, the *sibling runs* are the runs
in the store with the same target and dataset and a different judge; their attempts are matched to this run's
by response key. Each judge's rating of a response: unsafe, safe, or missing (unscored, error, no response:
never counted as safe and left out of every pair). Per pair of judges: items both scored, raw agreement, Cohen's
κ; over all judges: Krippendorff's nominal α (``metrics.agreement``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from safetyscope.core.records import VerdictLabel
from safetyscope.metrics.agreement import cohen_kappa, krippendorff_alpha
from safetyscope.report.attempts import verdict_text
from safetyscope.runner.store import RunRow, Store

MAX_SIBLINGS = 8


@dataclass(frozen=True)
class PairAgreement:
    first: str
    second: str
    n: int  # responses both judges scored
    agree: int
    kappa: float | None

    @property
    def rate(self) -> float | None:
        return self.agree / self.n if self.n else None


@dataclass(frozen=True)
class JudgeAgreement:
    judges: list[str]  # one label per run: the judge name, with the run id when two runs share a judge name
    runs: list[str]
    items: int  # responses rated by at least two judges
    disagreements: int  # of those, responses with both an unsafe and a safe rating
    pairs: list[PairAgreement]
    alpha: float | None
    # this run's attempts, by (sample id, attack): whether the judges disagree, and the other judges' verdicts
    others: dict[tuple[str, str], tuple[bool, str]] = field(default_factory=dict)

    def pair(self, first: str, second: str) -> PairAgreement | None:
        return next((p for p in self.pairs if {p.first, p.second} == {first, second}), None)

    def as_dict(self) -> dict[str, Any]:
        return {"judges": self.judges, "runs": self.runs, "items": self.items, "disagreements": self.disagreements,
                "krippendorff_alpha": self.alpha,
                "pairs": [{"first": p.first, "second": p.second, "both_scored": p.n, "agree": p.agree,
                           "agreement": p.rate, "cohen_kappa": p.kappa} for p in self.pairs]}

    def markdown(self) -> str:
        alpha = "undefined" if self.alpha is None else f"{self.alpha:.2f}"
        lines = ["## Judge agreement", "",
                 f"{len(self.judges)} judges scored the same responses (runs {', '.join(self.runs)}): {self.items} "
                 f"responses rated by at least two, {self.disagreements} rated both unsafe and safe; "
                 f"Krippendorff's α = {alpha}. Unscored ratings are left out.", "",
                 "| judges | both scored | agreement | Cohen's κ |", "|---|---|---|---|"]
        for p in self.pairs:
            rate = "—" if p.rate is None else f"{p.rate:.1%}"
            kappa = "—" if p.kappa is None else f"{p.kappa:.2f}"
            lines.append(f"| {p.first} vs {p.second} | {p.n} | {rate} | {kappa} |")
        return "\n".join(lines) + "\n"


def _rating(row: dict[str, object]) -> bool | None:
    if row.get("status") == "error" or row.get("response_key") is None:
        return None
    label = row.get("label")
    if label == VerdictLabel.UNSAFE.value:
        return True
    if label == VerdictLabel.SAFE.value:
        return False
    return None


def sibling_runs(store: Store, run: RunRow) -> list[RunRow]:
    """Runs with the same target and dataset judged by another judge (newest first, at most ``MAX_SIBLINGS``)."""
    found = [other for other in reversed(store.list_runs())
             if other.run_id != run.run_id and other.target == run.target and other.dataset == run.dataset
             and (other.judge_key, other.judge) != (run.judge_key, run.judge)]
    unique: dict[tuple[str | None, str], RunRow] = {}
    for other in found:
        unique.setdefault((other.judge_key, other.judge), other)
    return list(unique.values())[:MAX_SIBLINGS]


def judge_agreement(store: Store, run: RunRow) -> JudgeAgreement | None:
    """Agreement between this run's judge and its sibling runs' judges; None when no other judge ran."""
    runs = [run, *sibling_runs(store, run)]
    if len(runs) < 2:
        return None
    names = [r.judge for r in runs]
    labels = [f"{r.judge} ({r.run_id})" if names.count(r.judge) > 1 else r.judge for r in runs]
    ratings: dict[str, list[bool | None]] = {}
    texts: dict[str, list[str | None]] = {}
    mine: dict[str, list[tuple[str, str]]] = {}  # response key → this run's (sample id, attack)
    for index, member in enumerate(runs):
        for row in store.iter_attempts(member.run_id):
            key = row.get("response_key")
            if key is None:
                continue
            key = str(key)
            if index == 0:
                mine.setdefault(key, []).append((str(row["sample_id"]), str(row["attack"])))
            column = ratings.setdefault(key, [None] * len(runs))
            if column[index] is None:
                column[index] = _rating(row)
                explanation = row.get("explanation") or row.get("unscored_reason") or ""
                texts.setdefault(key, [None] * len(runs))[index] = verdict_text(row) + (
                    f" — {explanation}" if explanation else "")
    others = {}
    for key, attempts in mine.items():
        column = ratings[key]
        seen = [f"{labels[i]}: {text}" for i, text in enumerate(texts[key]) if i and text is not None]
        for attempt in attempts:
            others[attempt] = (True in column and False in column, "\n".join(seen))
    rated = [column for column in ratings.values() if sum(v is not None for v in column) >= 2]
    if not rated:
        return JudgeAgreement(labels, [r.run_id for r in runs], 0, 0, [], None, others)
    pairs = []
    for i, j in combinations(range(len(runs)), 2):
        first = [column[i] for column in rated]
        second = [column[j] for column in rated]
        both = [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
        pairs.append(PairAgreement(labels[i], labels[j], len(both), sum(a == b for a, b in both),
                                   cohen_kappa(first, second) if both else None))
    disagreements = sum(1 for column in rated if True in column and False in column)
    alpha = krippendorff_alpha([[column[i] for column in rated] for i in range(len(runs))])
    return JudgeAgreement(labels, [r.run_id for r in runs], len(rated), disagreements, pairs, alpha, others)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _colour(kappa: float | None) -> str:
    if kappa is None:
        return "#eee"
    value = max(0.0, min(1.0, kappa))  # κ ≤ 0: no better than chance, drawn white-red
    return f"rgb({round(230 - 200 * value)},{round(120 + 90 * value)},{round(110 + 40 * value)})"


def agreement_svg(agreement: JudgeAgreement) -> str:
    """A judge × judge matrix: Cohen's κ (colour and number), raw agreement and the items both judges scored."""
    judges = agreement.judges
    label_w, cell, head = 200, 120, 40
    width, height = label_w + cell * len(judges) + 10, head + cell // 2 * len(judges) + 10
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="judge agreement">']
    for col, name in enumerate(judges):
        parts.append(f'<text x="{label_w + col * cell + cell / 2}" y="{head - 10}" text-anchor="middle" '
                     f'class="head">{_e(name[:22])}</text>')
    for row, first in enumerate(judges):
        y = head + row * (cell // 2)
        parts.append(f'<text x="{label_w - 6}" y="{y + cell / 4 + 4}" text-anchor="end">{_e(first[:30])}</text>')
        for col, second in enumerate(judges):
            x = label_w + col * cell
            if first == second:
                parts.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell // 2 - 2}" '
                             f'fill="#f5f5f5"/>')
                continue
            pair = agreement.pair(first, second)
            kappa = pair.kappa if pair else None
            text = "κ —" if kappa is None else f"κ {kappa:.2f}"
            detail = f"{pair.rate:.0%} of {pair.n}" if pair and pair.rate is not None else "nothing in common"
            parts.append(f'<g><title>{_e(first)} vs {_e(second)}: Cohen κ {_e(text[2:])}, agree on {_e(detail)}'
                         f'</title><rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell // 2 - 2}" '
                         f'fill="{_colour(kappa)}"/><text x="{x + cell / 2}" y="{y + 22}" text-anchor="middle">'
                         f'{_e(text)}</text><text x="{x + cell / 2}" y="{y + 40}" text-anchor="middle" class="head">'
                         f'{_e(detail)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)

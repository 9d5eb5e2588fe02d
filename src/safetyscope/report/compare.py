"""Paired comparison of two runs on the prompts both evaluated.

Attempts are matched by (sample id, attack). For each hazard (unsafe prompts: attack success), overall (all
unsafe prompts) and benign prompts (over-refusal), on the pairs where both attempts were scored:

- McNemar's exact test on the discordant pairs (``metrics.paired.mcnemar_exact``), Holm-adjusted over every test
  in the table (``metrics.paired.holm_adjust``);
- the difference of rates ``Δ = p_B − p_A`` with Newcombe's (1998, method 10) hybrid score interval for paired
  proportions: Wilson intervals of both rates combined with the correlation ``φ`` of the paired outcomes;
- the prompts that flipped (A's outcome differs from B's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from safetyscope.core.records import Expectation
from safetyscope.metrics.paired import holm_adjust, mcnemar_exact, newcombe_paired_interval
from safetyscope.metrics.scorecard import OVERALL, hazard_name
from safetyscope.report.attempts import iter_views
from safetyscope.report.grades import Grades, format_grade
from safetyscope.runner.store import RunRow, Store
from safetyscope.taxonomy import CANONICAL_HAZARDS

OVER_REFUSAL = "over-refusal"
FLIPS_SHOWN = 50


@dataclass
class PairedTest:
    """One row of the comparison: counts over the pairs where both attempts were scored."""

    scope: str  # a hazard code, ``overall`` or ``over-refusal``
    both: int = 0
    only_a: int = 0
    only_b: int = 0
    neither: int = 0
    dropped: int = 0  # pairs with an unscored side
    p_value: float = 1.0
    p_holm: float = 1.0

    @property
    def pairs(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    @property
    def rate_a(self) -> float | None:
        return (self.both + self.only_a) / self.pairs if self.pairs else None

    @property
    def rate_b(self) -> float | None:
        return (self.both + self.only_b) / self.pairs if self.pairs else None

    @property
    def delta(self) -> float | None:
        return (self.only_b - self.only_a) / self.pairs if self.pairs else None

    @property
    def interval(self) -> tuple[float, float]:
        return newcombe_paired_interval(self.both, self.only_a, self.only_b, self.neither)

    @property
    def label(self) -> str:
        return "Benign: over-refusal" if self.scope == OVER_REFUSAL else hazard_name(self.scope)

    def add(self, a: bool, b: bool) -> None:
        if a and b:
            self.both += 1
        elif a:
            self.only_a += 1
        elif b:
            self.only_b += 1
        else:
            self.neither += 1

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {"scope": self.scope, "pairs": self.pairs, "dropped_unscored": self.dropped,
                "rate_a": self.rate_a, "rate_b": self.rate_b, "delta": self.delta,
                "delta_ci95": [low, high] if self.pairs else None, "both": self.both, "only_a": self.only_a,
                "only_b": self.only_b, "neither": self.neither, "p_value": self.p_value, "p_holm": self.p_holm}


@dataclass(frozen=True)
class Flip:
    """A prompt whose outcome differs between the runs."""

    sample_id: str
    attack: str
    hazard: str
    expect: str
    prompt: str
    before: str
    after: str

    @property
    def worse(self) -> bool:
        """B is less safe: an unsafe prompt now complied with, or a benign prompt now refused."""
        return self.after in ("unsafe", "refused")

    def as_dict(self) -> dict[str, Any]:
        return {"sample_id": self.sample_id, "attack": self.attack, "hazard": self.hazard, "expect": self.expect,
                "prompt": self.prompt, "a": self.before, "b": self.after,
                "direction": "worse" if self.worse else "better"}


@dataclass
class Comparison:
    """The paired comparison of run A with run B."""

    run_a: RunRow
    run_b: RunRow
    tests: list[PairedTest]
    flips: list[Flip]
    only_in_a: int
    only_in_b: int
    grades_a: Grades | None = None
    grades_b: Grades | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_a": _run_info(self.run_a), "run_b": _run_info(self.run_b),
                "matched_by": "sample id + attack", "only_in_a": self.only_in_a, "only_in_b": self.only_in_b,
                "method": {"test": "McNemar exact (two-sided)", "adjustment": "Holm over all rows",
                           "delta": "p_B - p_A", "interval": "Newcombe (1998) method 10, 95%"},
                "tests": [test.as_dict() for test in self.tests],
                "grades_a": self.grades_a.as_dict() if self.grades_a else None,
                "grades_b": self.grades_b.as_dict() if self.grades_b else None,
                "flips": [flip.as_dict() for flip in self.flips]}


def _run_info(run: RunRow) -> dict[str, Any]:
    return {"run_id": run.run_id, "target": run.target, "dataset": run.dataset, "judge": run.judge,
            "status": run.status}


def _state(expect: str, hit: bool) -> str:
    if expect == Expectation.REFUSE.value:
        return "unsafe" if hit else "safe"
    return "refused" if hit else "answered"


def compare_runs(store: Store, run_a: RunRow, run_b: RunRow, store_b: Store | None = None) -> Comparison:
    """Match the attempts of two runs by (sample id, attack) and test the differences."""
    first: dict[tuple[str, str], tuple[str, str, bool | None, str]] = {}
    for view in iter_views(store, run_a.run_id):
        first[(view.sample_id, view.attack)] = (view.hazard, view.expect, view.outcome, view.prompt)
    tests: dict[str, PairedTest] = {}
    flips: list[Flip] = []
    matched = only_b = 0
    for view in iter_views(store_b or store, run_b.run_id):
        key = (view.sample_id, view.attack)
        entry = first.get(key)
        if entry is None:
            only_b += 1
            continue
        matched += 1
        hazard, expect, outcome_a, prompt = entry
        scopes = [hazard, OVERALL] if expect == Expectation.REFUSE.value else [OVER_REFUSAL]
        for scope in scopes:
            test = tests.setdefault(scope, PairedTest(scope))
            if outcome_a is None or view.outcome is None:
                test.dropped += 1
            else:
                test.add(outcome_a, view.outcome)
        if outcome_a is not None and view.outcome is not None and outcome_a != view.outcome:
            flips.append(Flip(view.sample_id, view.attack, hazard, expect, prompt,
                              _state(expect, outcome_a), _state(expect, view.outcome)))
    ordered = [tests[code] for code in CANONICAL_HAZARDS if code in tests]
    ordered += [tests[scope] for scope in (OVERALL, OVER_REFUSAL) if scope in tests]
    listed = {test.scope for test in ordered}
    ordered += [test for scope, test in sorted(tests.items()) if scope not in listed]  # unmapped hazards
    for test in ordered:
        test.p_value = mcnemar_exact(test.only_a, test.only_b)
    adjusted = holm_adjust([test.p_value for test in ordered])
    for test, p in zip(ordered, adjusted, strict=True):
        test.p_holm = p
    flips.sort(key=lambda flip: (not flip.worse, flip.hazard, flip.sample_id, flip.attack))
    comparison = Comparison(run_a, run_b, ordered, flips, only_in_a=len(first) - matched, only_in_b=only_b)
    if not matched:
        comparison.notes.append("the runs share no (sample id, attack) pairs")
    return comparison


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _delta(test: PairedTest) -> str:
    if test.delta is None:
        return "—"
    low, high = test.interval
    return f"{test.delta:+.1%} [{low:+.1%}, {high:+.1%}]"


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 0.001 else f"{value:.1e}"


def _grade_cells(comparison: Comparison, scope: str) -> tuple[str, str]:
    def pick(grades: Grades | None) -> str:
        if grades is None:
            return ""
        return format_grade(grades.overall if scope == OVERALL else grades.hazards.get(scope))
    return pick(comparison.grades_a), pick(comparison.grades_b)


HEADERS = ["scope", "pairs", "A", "B", "Δ B−A [95% CI]", "A only", "B only", "p", "p (Holm)"]


def _rows(comparison: Comparison) -> list[list[str]]:
    graded = comparison.grades_a is not None
    rows = []
    for test in comparison.tests:
        cells = [test.label + ("" if test.scope in (OVERALL, OVER_REFUSAL) else f" ({test.scope})"),
                 f"{test.pairs}" + (f" (+{test.dropped} unscored)" if test.dropped else ""),
                 _pct(test.rate_a), _pct(test.rate_b), _delta(test), str(test.only_a), str(test.only_b),
                 _p(test.p_value), _p(test.p_holm)]
        if graded:
            cells += list(_grade_cells(comparison, test.scope))
        rows.append(cells)
    return rows


def _headers(comparison: Comparison) -> list[str]:
    return HEADERS + (["grade A", "grade B"] if comparison.grades_a is not None else [])


def _grade_change(comparison: Comparison, scope: str) -> str:
    def value(grades: Grades | None) -> str:
        grade = None if grades is None else grades.overall if scope == OVERALL else grades.hazards.get(scope)
        return "—" if grade is None else str(grade.value)
    return "" if scope == OVER_REFUSAL else f"{value(comparison.grades_a)} → {value(comparison.grades_b)}"


def print_comparison(console: Console, comparison: Comparison, *, flips_shown: int = FLIPS_SHOWN) -> None:
    a, b = comparison.run_a, comparison.run_b
    caption = ("rates: attack success (hazards, overall) or over-refusal (benign) on pairs both scored "
               "(+ pairs dropped as unscored); McNemar exact p, Holm-adjusted; Δ interval: Newcombe method 10")
    if comparison.grades_a is not None:
        caption += f"; AILuminate grades (5 Excellent … 1 Poor) vs {comparison.grades_a.reference}"
    table = Table(title=f"A = {a.run_id} ({a.target}) vs B = {b.run_id} ({b.target})", caption=caption,
                  box=box.SIMPLE_HEAD)
    graded = comparison.grades_a is not None
    for name in ["scope", "pairs", "A", "B", "Δ B−A [95% CI]", "A/B only", "p", "p Holm",
                 *(["grade A → B"] if graded else [])]:
        table.add_column(name, justify="left" if name == "scope" else "right", min_width=7 if name == "scope" else None)
    for test in comparison.tests:
        scope = {OVERALL: "overall", OVER_REFUSAL: "benign (over-refusal)"}.get(test.scope, test.scope)
        cells = [scope, f"{test.pairs}" + (f" (+{test.dropped})" if test.dropped else ""), _pct(test.rate_a),
                 _pct(test.rate_b), _delta(test), f"{test.only_a}/{test.only_b}", _p(test.p_value), _p(test.p_holm)]
        if graded:
            cells.append(_grade_change(comparison, test.scope))
        table.add_row(*cells, style="bold" if test.scope == OVERALL else None)
    console.print(table)
    console.print(f"matched pairs by sample id + attack; only in A: {comparison.only_in_a}, "
                  f"only in B: {comparison.only_in_b}")
    for note in comparison.notes:
        console.print(f"[yellow]{note}[/]")
    if not comparison.flips:
        console.print("No prompts flipped.")
        return
    worse = sum(flip.worse for flip in comparison.flips)
    flip_table = Table(title=f"Flipped prompts: {worse} worse in B, {len(comparison.flips) - worse} better")
    for name in ("sample", "attack", "hazard", "A → B", "prompt"):
        flip_table.add_column(name)
    for flip in comparison.flips[:flips_shown]:
        flip_table.add_row(flip.sample_id, flip.attack, flip.hazard, f"{flip.before} → {flip.after}",
                           _short(flip.prompt), style="red" if flip.worse else "green")
    console.print(flip_table)
    if len(comparison.flips) > flips_shown:
        console.print(f"… {len(comparison.flips) - flips_shown} more (--format json or md lists all)")


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_comparison(comparison: Comparison) -> str:
    a, b = comparison.run_a, comparison.run_b
    lines = ["# safetyscope comparison", "",
             f"- A: `{a.run_id}` — `{a.target}` on `{a.dataset}` (judge `{a.judge}`)",
             f"- B: `{b.run_id}` — `{b.target}` on `{b.dataset}` (judge `{b.judge}`)",
             f"- matched by sample id + attack; only in A: {comparison.only_in_a}, only in B: {comparison.only_in_b}",
             "",
             "Rates are attack success (hazards, overall) or over-refusal (benign) over the pairs both runs scored. "
             "p: McNemar's exact test; Holm-adjusted over all rows. Δ = B − A with Newcombe's (1998, method 10) "
             "95% interval for paired proportions.", ""]
    if comparison.grades_a is not None:
        lines += [f"Grades: AILuminate v1.0 formula relative to {comparison.grades_a.reference}.", ""]
    headers = _headers(comparison)
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in _rows(comparison)]
    lines += ["", "## Flipped prompts", ""]
    if not comparison.flips:
        lines.append("None.")
    else:
        lines += ["| sample | attack | hazard | A → B | direction | prompt |", "|---|---|---|---|---|---|"]
        lines += [f"| {_md_cell(f.sample_id)} | {_md_cell(f.attack)} | {f.hazard} | {f.before} → {f.after} | "
                  f"{'worse' if f.worse else 'better'} | {_md_cell(_short(f.prompt, 200))} |" for f in comparison.flips]
    lines += [f"- {note}" for note in comparison.notes]
    return "\n".join(lines) + "\n"

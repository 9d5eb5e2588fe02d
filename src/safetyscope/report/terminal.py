"""The scorecard as rich tables in the terminal: per hazard, and per attack when several ran."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from safetyscope.metrics.retaxonomy import rows_in_taxonomy
from safetyscope.metrics.scorecard import OVERALL, Scorecard, hazard_name
from safetyscope.report.summary import format_corrected, format_count, format_number, format_rate
from safetyscope.runner.store import RunRow

CAPTION = "Wilson 95% intervals; unscored items excluded from rates"


def print_scorecard(console: Console, run: RunRow, card: Scorecard, *, taxonomy: str | None = None) -> None:
    """The scorecard; with ``taxonomy``, hazard rows are that taxonomy's codes (pooled through the crosswalk)."""
    attacks = card.attacks
    if len(attacks) > 1:
        console.print(_by_attack_table(run, card))
    pooled = attacks[0] if len(attacks) == 1 else OVERALL
    console.print(_by_hazard_table(run, card, pooled))
    if taxonomy is not None:
        console.print(_taxonomy_table(run, card, pooled, taxonomy))
    if card.queries:
        console.print(_queries_table(run, card))
    if card.unscored_reasons:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in card.unscored_reasons.most_common())
        console.print(f"[yellow]Unscored {sum(card.unscored_reasons.values())} of {card.total}[/] ({reasons})")
    else:
        console.print(f"Unscored: 0 of {card.total}")


def _by_hazard_table(run: RunRow, card: Scorecard, attack: str) -> Table:
    label = "all attacks pooled" if attack == OVERALL else f"attack: {attack}"
    corrected = bool(card.corrected)
    caption = CAPTION + (f"\njudge-corrected: Rogan–Gladen, Lang–Reiczigel 95% interval, validation "
                         f"{card.correction_source}" if corrected else "")
    table = Table(title=f"{run.target} on {run.dataset} · {label} · judge: {run.judge}", caption=caption)
    columns = [("hazard", "left"), ("attack success", "right"), ("unsafe/scored", "right"), ("unscored", "right")]
    if corrected:
        columns.insert(2, ("judge-corrected", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for hazard in [*card.hazards, OVERALL]:
        rate = card.attack_success.get((attack, hazard))
        if rate is None:
            continue
        name = hazard_name(hazard) + ("" if hazard == OVERALL else f" ({hazard})")
        cells = [name, format_rate(rate), format_count(rate), str(rate.unscored)]
        if corrected:
            cells.insert(2, format_corrected(card.corrected.get((attack, hazard))))
        table.add_row(*cells, style="bold" if hazard == OVERALL else None)
    refusal = card.over_refusal.get(attack)
    if refusal is not None:
        table.add_section()
        cells = ["Benign prompts: over-refusal", format_rate(refusal), format_count(refusal), str(refusal.unscored)]
        if corrected:
            cells.insert(2, "")
        table.add_row(*cells, style="italic")
    return table


def _by_attack_table(run: RunRow, card: Scorecard) -> Table:
    table = Table(title=f"{run.target} on {run.dataset} · by attack · judge: {run.judge}", caption=CAPTION)
    for name, justify in (("attack", "left"), ("attack success", "right"), ("unsafe/scored", "right"),
                          ("over-refusal", "right"), ("unscored", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for attack in [*card.attacks, OVERALL]:
        rate = card.attack_success.get((attack, OVERALL))
        refusal = card.over_refusal.get(attack)
        unscored = (rate.unscored if rate else 0) + (refusal.unscored if refusal else 0)
        table.add_row("all attacks" if attack == OVERALL else attack, format_rate(rate), format_count(rate),
                      format_rate(refusal), str(unscored), style="bold" if attack == OVERALL else None)
    best = card.best_of_n.get(OVERALL)
    if best is not None:
        table.add_section()
        table.add_row("any attack (best-of-N, per prompt)", format_rate(best), format_count(best), "",
                      str(best.unscored), style="italic")
    return table


def _queries_table(run: RunRow, card: Scorecard) -> Table:
    table = Table(title=f"{run.target} · multi-turn attacks · target queries",
                  caption="per success: attempts the judge called unsafe; per attempt: every scored attempt")
    for name in ("attack", "successes/attempts", "mean per success", "median per success", "mean per attempt"):
        table.add_column(name, justify="left" if name == "attack" else "right")
    for attack, cost in sorted(card.queries.items()):
        table.add_row(attack, f"{cost.successes}/{cost.attempts}", format_number(cost.mean),
                      format_number(cost.median), format_number(cost.mean_per_attempt))
    return table


def _taxonomy_table(run: RunRow, card: Scorecard, attack: str, taxonomy: str) -> Table:
    table = Table(title=f"{run.target} on {run.dataset} · attack success in taxonomy {taxonomy}",
                  caption="each code pools the canonical hazards it maps to; codes can share hazards")
    for name, justify in (("code", "left"), ("name", "left"), ("canonical hazards", "left"),
                          ("attack success", "right"), ("unsafe/scored", "right"), ("unscored", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows_in_taxonomy(card, attack, taxonomy):
        table.add_row(row.code, row.name, ", ".join(row.hazards), format_rate(row.rate), format_count(row.rate),
                      str(row.rate.unscored))
    overall = card.attack_success.get((attack, OVERALL))
    if overall is not None:
        table.add_section()
        table.add_row("", "Overall", "", format_rate(overall), format_count(overall), str(overall.unscored),
                      style="bold")
    return table

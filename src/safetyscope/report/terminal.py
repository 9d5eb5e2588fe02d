"""The scorecard as a rich table in the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from safetyscope.metrics.scorecard import OVERALL, Scorecard, hazard_name
from safetyscope.report.summary import format_count, format_rate
from safetyscope.runner.store import RunRow


def print_scorecard(console: Console, run: RunRow, card: Scorecard) -> None:
    for attack in card.attacks:
        table = Table(title=f"{run.target} on {run.dataset} · attack: {attack} · judge: {run.judge}",
                      caption="Wilson 95% intervals; unscored items excluded from rates")
        table.add_column("hazard")
        table.add_column("attack success", justify="right")
        table.add_column("unsafe/scored", justify="right")
        table.add_column("unscored", justify="right")
        for hazard in [*card.hazards, OVERALL]:
            rate = card.attack_success.get((attack, hazard))
            if rate is None:
                continue
            style = "bold" if hazard == OVERALL else None
            table.add_row(f"{hazard_name(hazard)}" + ("" if hazard == OVERALL else f" ({hazard})"),
                          format_rate(rate), format_count(rate), str(rate.unscored), style=style)
        refusal = card.over_refusal.get(attack)
        if refusal is not None:
            table.add_section()
            table.add_row("Benign prompts: over-refusal", format_rate(refusal), format_count(refusal),
                          str(refusal.unscored), style="italic")
        console.print(table)
    if card.unscored_reasons:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in card.unscored_reasons.most_common())
        console.print(f"[yellow]Unscored {sum(card.unscored_reasons.values())} of {card.total}[/] ({reasons})")
    else:
        console.print(f"Unscored: 0 of {card.total}")

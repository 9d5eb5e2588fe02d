"""Several runs side by side: target, dataset, attack success (Wilson 95%), over-refusal and grade."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from safetyscope.metrics.scorecard import OVERALL, Scorecard
from safetyscope.report.grades import Grades, format_grade
from safetyscope.report.summary import format_rate
from safetyscope.report.tradeoff import TradeoffPoint, tradeoff_svg
from safetyscope.runner.store import RunRow

HEADERS = ["rank", "run", "target", "dataset", "judge", "attack success [95% CI]", "over-refusal [95% CI]", "grade"]


@dataclass(frozen=True)
class Entry:
    run: RunRow
    card: Scorecard
    grades: Grades

    @property
    def attack_success(self) -> float | None:
        rate = self.card.attack_success.get((OVERALL, OVERALL))
        return None if rate is None else rate.value

    def cells(self) -> list[str]:
        return [self.run.run_id, self.run.target, self.run.dataset, self.run.judge,
                format_rate(self.card.attack_success.get((OVERALL, OVERALL))),
                format_rate(self.card.over_refusal.get(OVERALL)), format_grade(self.grades.overall)]

    def as_dict(self) -> dict[str, Any]:
        asr = self.card.attack_success.get((OVERALL, OVERALL))
        refusal = self.card.over_refusal.get(OVERALL)
        return {"run_id": self.run.run_id, "target": self.run.target, "dataset": self.run.dataset,
                "judge": self.run.judge, "attack_success": asr.as_dict() if asr else None,
                "over_refusal": refusal.as_dict() if refusal else None,
                "grade": self.grades.overall.as_dict() if self.grades.overall else None}


def ranked(entries: list[Entry]) -> list[Entry]:
    """Lowest overall attack success first; runs with nothing scored last."""
    return sorted(entries, key=lambda e: (e.attack_success is None, e.attack_success or 0.0, e.run.run_id))


def _note(entries: list[Entry]) -> str:
    reference = entries[0].grades.reference if entries else ""
    return ("Attack success on unsafe prompts and over-refusal on benign prompts, all attacks pooled; Wilson 95% "
            f"intervals. Grade: AILuminate v1.0 formula relative to {reference}. Ranked by attack success.")


def leaderboard_markdown(entries: list[Entry]) -> str:
    lines = ["# safetyscope leaderboard", "", _note(entries), "", "| " + " | ".join(HEADERS) + " |",
             "|" + "---|" * len(HEADERS)]
    for rank, entry in enumerate(ranked(entries), 1):
        cells = [str(rank), *(f"`{c}`" if i < 4 else c for i, c in enumerate(entry.cells()))]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def leaderboard_html(entries: list[Entry]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in [str(rank), *entry.cells()]) + "</tr>"
                   for rank, entry in enumerate(ranked(entries), 1))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>safetyscope leaderboard</title>"
            "<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}"
            ".chart text{font-size:12px}.chart .head{fill:#555;font-size:11px}"
            "td,th{border:1px solid #ddd;padding:3px 8px}th{background:#f5f5f5}</style></head><body>"
            f"<h1>safetyscope leaderboard</h1><p>{html.escape(_note(entries))}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            "<h2>Safety vs helpfulness</h2><p>Attack success against over-refusal, one point per run (numbered as "
            "in the legend), Wilson 95% whiskers on both axes; lower left is better.</p>"
            f"{tradeoff_svg(tradeoff_points(entries))}</body></html>\n")


def tradeoff_points(entries: list[Entry]) -> list[TradeoffPoint]:
    """One trade-off point per run, in rank order, labelled by target (and run id)."""
    return [TradeoffPoint(f"{entry.run.target} ({entry.run.run_id})", entry.card.attack_success.get((OVERALL, OVERALL)),
                          entry.card.over_refusal.get(OVERALL)) for entry in ranked(entries)]

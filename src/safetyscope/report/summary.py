"""The run summary (JSON and Markdown) written next to the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from safetyscope.metrics.correction import CorrectedRate
from safetyscope.metrics.scorecard import OVERALL, Rate, Scorecard, hazard_name
from safetyscope.runner.store import RunRow


@dataclass(frozen=True)
class SummaryPaths:
    json: Path
    markdown: Path


def summary_dict(run: RunRow, card: Scorecard, store_url: str) -> dict[str, Any]:
    return {"run_id": run.run_id, "status": run.status, "note": run.note, "created_at": run.created_at,
            "target": run.target, "dataset": run.dataset, "judge": run.judge, "store": store_url,
            "spec": run.spec, "scorecard": card.as_dict()}


def format_rate(rate: Rate | None) -> str:
    """``12.5% [8.1–18.7]`` or ``—`` when nothing was scored."""
    if rate is None or rate.value is None:
        return "—"
    low, high = rate.interval
    return f"{rate.value:.1%} [{low:.1%}–{high:.1%}]"


def format_corrected(rate: CorrectedRate | None) -> str:
    """Judge-corrected rate with its interval, or why it could not be corrected."""
    if rate is None:
        return "—"
    if rate.corrected is None or rate.interval is None:
        return "n/a"
    low, high = rate.interval
    return f"{rate.corrected:.1%} [{low:.1%}–{high:.1%}]"


def format_number(value: float | None) -> str:
    """``3.5`` (one decimal) or ``—`` when there is nothing to average."""
    return "—" if value is None else f"{value:.1f}"


def format_count(rate: Rate | None) -> str:
    return "0" if rate is None else f"{rate.hits}/{rate.scored}"


def markdown_summary(run: RunRow, card: Scorecard, store_url: str) -> str:
    lines = [f"# safetyscope run `{run.run_id}`", "",
             f"- target: `{run.target}`", f"- dataset: `{run.dataset}`", f"- judge: `{run.judge}`",
             f"- status: **{run.status}**" + (f" ({run.note})" if run.note else ""),
             f"- attempts: {card.total}", f"- store: `{store_url}`", "",
             "Attack success = share of unsafe prompts the judge scored as unsafely complied with. "
             "Over-refusal = share of benign prompts refused (fully or partly). Brackets: Wilson 95% interval. "
             "Unscored items are excluded from rates and listed below.", ""]
    corrected = bool(card.corrected)
    if corrected:
        lines += [f"Judge-corrected attack success (Rogan–Gladen, Lang–Reiczigel 95% interval) uses the judge "
                  f"validation {card.correction_source}.", ""]
    for attack in card.attacks:
        extra_head, extra_rule = (" judge-corrected |", "---|") if corrected else ("", "")
        lines += [f"## Attack `{attack}`", "", f"| hazard | attack success |{extra_head} unsafe/scored | unscored |",
                  f"|---|---|{extra_rule}---|---|"]
        for hazard in [*card.hazards, OVERALL]:
            rate = card.attack_success.get((attack, hazard))
            if rate is None:
                continue
            name = f"**{hazard_name(hazard)}**" if hazard == OVERALL else f"{hazard_name(hazard)} (`{hazard}`)"
            extra = f" {format_corrected(card.corrected.get((attack, hazard)))} |" if corrected else ""
            lines.append(f"| {name} | {format_rate(rate)} |{extra} {format_count(rate)} | {rate.unscored} |")
        refusal = card.over_refusal.get(attack)
        if refusal is not None:
            extra = " |" if corrected else ""
            lines.append(f"| Benign: over-refusal | {format_rate(refusal)} |{extra} {format_count(refusal)} "
                         f"| {refusal.unscored} |")
        lines.append("")
    if card.queries:
        lines += ["## Queries per success (multi-turn attacks)", "",
                  "Target queries used by attempts the judge called unsafe (scored attempts on prompts that expect a "
                  "refusal).", "", "| attack | successes / attempts | mean per success | median per success "
                  "| mean per attempt |", "|---|---|---|---|---|"]
        for attack, cost in sorted(card.queries.items()):
            lines.append(f"| `{attack}` | {cost.successes}/{cost.attempts} | {format_number(cost.mean)} "
                         f"| {format_number(cost.median)} | {format_number(cost.mean_per_attempt)} |")
        lines.append("")
    lines += ["## Unscored", ""]
    if card.unscored_reasons:
        lines += [f"- {reason}: {count}" for reason, count in card.unscored_reasons.most_common()]
    else:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def write_summaries(run: RunRow, card: Scorecard, store_url: str, output_dir: Path) -> SummaryPaths:
    """Write ``<run_id>.json`` and ``<run_id>.md`` into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = SummaryPaths(json=output_dir / f"{run.run_id}.json", markdown=output_dir / f"{run.run_id}.md")
    paths.json.write_bytes(orjson.dumps(summary_dict(run, card, store_url), option=orjson.OPT_INDENT_2))
    paths.markdown.write_text(markdown_summary(run, card, store_url), encoding="utf-8")
    return paths

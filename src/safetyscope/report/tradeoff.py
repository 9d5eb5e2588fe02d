"""The safety/helpfulness trade-off plot: attack success (unsafe prompts) against over-refusal (benign prompts).

One point per run (the leaderboard) or per attack of one run (the report), with Wilson 95% whiskers on both
axes. Lower-left is better: few unsafe completions and few refusals of safe requests.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

from safetyscope.metrics.scorecard import OVERALL, Rate, Scorecard
from safetyscope.report.summary import format_rate

PALETTE = ["#c0392b", "#2471a3", "#229954", "#b9770e", "#7d3c98", "#17a589", "#839192", "#d35400"]


@dataclass(frozen=True)
class TradeoffPoint:
    label: str
    attack_success: Rate | None
    over_refusal: Rate | None

    @property
    def plotted(self) -> bool:
        return bool(self.attack_success and self.attack_success.scored and self.over_refusal
                    and self.over_refusal.scored)


def attack_points(card: Scorecard) -> list[TradeoffPoint]:
    """One point per attack of a run, then all attacks pooled."""
    return [TradeoffPoint("all attacks" if attack == OVERALL else attack, card.attack_success.get((attack, OVERALL)),
                          card.over_refusal.get(attack)) for attack in [*card.attacks, OVERALL]]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def tradeoff_svg(points: Iterable[TradeoffPoint], *, title: str = "attack success vs over-refusal") -> str:
    """A scatter plot; points lacking either rate are listed under the plot instead."""
    points = list(points)
    shown = [p for p in points if p.plotted]
    left, top, size, legend_w = 60, 16, 360, 380
    width, height = left + size + 30 + legend_w, max(top + size + 50, top + 40 + 18 * len(shown))
    parts = [f'<svg class="chart tradeoff" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
             f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/>']
    for tick in range(0, 101, 25):
        offset = size * tick / 100
        parts.append(f'<line x1="{left + offset}" y1="{top}" x2="{left + offset}" y2="{top + size}" stroke="#eee"/>'
                     f'<line x1="{left}" y1="{top + size - offset}" x2="{left + size}" y2="{top + size - offset}" '
                     f'stroke="#eee"/><text x="{left + offset}" y="{top + size + 16}" text-anchor="middle" '
                     f'class="head">{tick}%</text><text x="{left - 6}" y="{top + size - offset + 4}" '
                     f'text-anchor="end" class="head">{tick}%</text>')
    parts.append(f'<text x="{left + size + 30}" y="{top}" class="head">point: attack success / over-refusal</text>')
    parts.append(f'<text x="{left + size / 2}" y="{top + size + 38}" text-anchor="middle">over-refusal (benign '
                 f'prompts refused) →</text><text transform="translate(14 {top + size / 2}) rotate(-90)" '
                 f'text-anchor="middle">attack success →</text>')

    def x(value: float) -> float:
        return left + size * value

    def y(value: float) -> float:
        return top + size - size * value

    for index, point in enumerate(shown):
        assert point.attack_success is not None and point.over_refusal is not None
        colour = PALETTE[index % len(PALETTE)]
        asr, refusal = point.attack_success, point.over_refusal
        (a_low, a_high), (r_low, r_high) = asr.interval, refusal.interval
        cx, cy = x(refusal.value or 0.0), y(asr.value or 0.0)
        tip = f"{point.label}: attack success {format_rate(asr)}, over-refusal {format_rate(refusal)}"
        parts.append(f'<g class="point"><title>{_e(tip)}</title>'
                     f'<line x1="{x(r_low):.1f}" y1="{cy:.1f}" x2="{x(r_high):.1f}" y2="{cy:.1f}" stroke="{colour}"/>'
                     f'<line x1="{cx:.1f}" y1="{y(a_low):.1f}" x2="{cx:.1f}" y2="{y(a_high):.1f}" stroke="{colour}"/>'
                     f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}"/>'
                     f'<text x="{cx + 7:.1f}" y="{cy - 6:.1f}" class="head">{index + 1}</text></g>')
        ly = top + 14 + index * 18
        parts.append(f'<circle cx="{left + size + 36}" cy="{ly - 4}" r="5" fill="{colour}"/><text x="'
                     f'{left + size + 46}" y="{ly}">{index + 1}. {_e(point.label[:40])}: {asr.value or 0.0:.0%} / '
                     f'{refusal.value or 0.0:.0%}</text>')
    missing = [p.label for p in points if not p.plotted]
    if missing:
        ly = top + 14 + len(shown) * 18 + 8
        parts.append(f'<text x="{left + size + 30}" y="{ly}" class="head">not plotted (no scored unsafe or benign '
                     f'prompts): {_e(", ".join(missing)[:120])}</text>')
    parts.append("</svg>")
    return "".join(parts)

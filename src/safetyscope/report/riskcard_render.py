"""Risk cards as Markdown and as one self-contained HTML file (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import html
import re

from safetyscope.report.html import bar
from safetyscope.report.riskcards import RiskCard, RiskCardSet
from safetyscope.report.summary import format_corrected, format_count, format_rate

REDACTED = "[redacted: output withheld (--redact)]"
METHOD_NOTE = ("Attack success = unsafe / scored on this hazard's unsafe prompts, all attacks pooled, Wilson 95% "
               "interval. Unscored items (errors, refusal-judge failures, unparseable judge output) are never "
               "counted as safe: they are tallied apart and left out of the rate.")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!|~#])")
"""What starts inline Markdown (emphasis, code, links, images, tables, strikethrough, headings); ``<`` and ``>``
are HTML-escaped first."""


def _md(text: str) -> str:
    """Untrusted text safe inline in Markdown: no raw HTML, no links, images, emphasis or column breaks."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", " ")


def _fence(text: str, minimum: int) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(minimum, longest + 1)


def _code(text: str) -> str:
    """Untrusted text as an inline code span that it cannot break out of."""
    fence = _fence(text, 1)
    return f"{fence} {text.replace(chr(10), ' ')} {fence}"


def _quote(text: str) -> list[str]:
    """Untrusted text as a fenced code block: a renderer shows it verbatim, with no markup, links or images."""
    fence = _fence(text, 3)
    return [fence + "text", *text.splitlines(), fence]


def _no_attack(card: RiskCard) -> str:
    if not card.attacks:
        return "Nothing scored: no attack can be assessed (every attempt was unscored)."
    return "None: no attack produced an output judged unsafe."


def _card_markdown(card: RiskCard) -> list[str]:
    unsafe, safe, unscored = card.tally
    lines = [f"## {card.title}", "", f"**Risk group:** {card.group}", "", "### Description", "",
             card.profile.description, "", "### Categorisation", ""]
    lines += [f"- **{item.title}** (`{item.taxonomy}`): " + ", ".join(f"`{code}` {_md(name)} ({fit})"
                                                                        for code, name, fit in item.codes)
              for item in card.categorisation] or ["- (no seed taxonomy maps to this hazard)"]
    lines += ["", "### Harm types", "", *[f"- {h}" for h in card.profile.harm_types], "", "### Actors", "",
              *[f"- {a}" for a in card.profile.actors], "", "### Requirements for the harm to happen", "",
              *[f"- {r}" for r in card.profile.requirements], "", "### Measured", "",
              "| measure | value |", "|---|---|",
              f"| attack success (raw) [95% CI] | {format_rate(card.rate)} ({format_count(card.rate)}) |"]
    if card.corrected is not None:
        lines.append(f"| attack success (judge-corrected) [95% CI] | {format_corrected(card.corrected)} |")
    if card.best_of_n is not None:
        lines.append(f"| best of N attacks [95% CI] | {format_rate(card.best_of_n)} "
                     f"({format_count(card.best_of_n)} prompts) |")
    lines += [f"| tally: unsafe / safe / unscored | {unsafe} / {safe} / {unscored} |", "",
              "### Attacks that worked", ""]
    if card.worked:
        lines += ["| attack | attack success [95% CI] | unsafe/scored | unscored |", "|---|---|---|---|"]
        lines += [f"| `{r.attack}` | {format_rate(r.rate)} | {format_count(r.rate)} | {r.rate.unscored} |"
                  for r in card.worked]
    else:
        lines.append(_no_attack(card))
    failed = [r.attack for r in card.attacks if r.rate.hits == 0]
    if failed:
        lines += ["", "Tried without success: " + ", ".join(f"`{a}`" for a in failed) + "."]
    lines += ["", "### Examples (judged unsafe)", ""]
    if not card.examples:
        lines.append("None.")
    for number, example in enumerate(card.examples, 1):
        lines += [f"**Example {number}**: sample {_code(example.sample_id)}, attack {_code(example.attack)}, "
                  f"verdict {_md(example.verdict)}", "", "Prompt:", "", *_quote(example.prompt), ""]
        if example.sent != example.prompt:
            lines += ["Sent:", "", *_quote(example.sent), ""]
        lines += ["Output:", "", *_quote(REDACTED if example.output is None else example.output), ""]
        if example.explanation:
            lines += [f"Judge: {_md(example.explanation)}", ""]
    return lines


def riskcards_markdown(cards: RiskCardSet) -> str:
    run = cards.run
    lines = [f"# Risk cards: `{run.target}` on `{run.dataset}`", "",
             f"Run `{run.run_id}` ({run.created_at}), judge `{run.judge}`. Cards follow the RiskCards framework "
             "(Derczynski et al., 2023).", "", METHOD_NOTE]
    if cards.correction_source:
        lines += ["", f"Judge-corrected rates: Rogan–Gladen with Lang–Reiczigel 95% interval, validation "
                      f"{cards.correction_source}."]
    if cards.redacted:
        lines += ["", "Model outputs are redacted."]
    lines.append("")
    for card in cards.cards:
        lines += _card_markdown(card)
    return "\n".join(lines).rstrip() + "\n"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _list(items: tuple[str, ...]) -> str:
    return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def attacks_svg(card: RiskCard) -> str:
    """Per-attack attack success bars with Wilson 95% whiskers."""
    label_w, plot_w, row_h = 150, 300, 20
    width, height = label_w + plot_w + 200, 10 + row_h * len(card.attacks) + 6
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="attack success per attack">']
    for row, result in enumerate(card.attacks):
        y = 6 + row * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(result.attack)}</text>')
        parts.append(bar(result.rate.value, result.rate.interval, label_w, plot_w, y, 14, "#c0392b",
                         f"{format_rate(result.rate)} ({format_count(result.rate)})"))
    parts.append("</svg>")
    return "".join(parts)


def _categorisation_summary(card: RiskCard) -> str:
    exact = [f"{item.taxonomy} {code}" for item in card.categorisation for code, _name, fit in item.codes
             if fit == "exact"]
    return (f"{len(card.categorisation)} taxonomies cover this hazard; exact fits: {', '.join(exact) or 'none'} "
            "(open for every code)")


def _card_html(card: RiskCard) -> str:
    unsafe, safe, unscored = card.tally
    rows = [("attack success (raw) [95% CI]", f"{format_rate(card.rate)} ({format_count(card.rate)})")]
    if card.corrected is not None:
        rows.append(("attack success (judge-corrected) [95% CI]", format_corrected(card.corrected)))
    if card.best_of_n is not None:
        rows.append(("best of N attacks [95% CI]", f"{format_rate(card.best_of_n)} "
                                                   f"({format_count(card.best_of_n)} prompts)"))
    rows.append(("tally: unsafe / safe / unscored", f"{unsafe} / {safe} / {unscored}"))
    measured = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    taxonomies = "".join(
        f"<tr><td>{_e(item.title)}<br><code>{_e(item.taxonomy)}</code></td><td>"
        + "<br>".join(f"<code>{_e(code)}</code> {_e(name)} <span class='fit'>({_e(fit)})</span>"
                      for code, name, fit in item.codes) + "</td></tr>" for item in card.categorisation)
    worked = ", ".join(f"{r.attack} ({format_rate(r.rate)})" for r in card.worked) or _no_attack(card)
    examples = []
    for example in card.examples:
        sent = "" if example.sent == example.prompt else f"<dt>sent</dt><dd><pre>{_e(example.sent)}</pre></dd>"
        output = f"<span class='redacted'>{_e(REDACTED)}</span>" if example.output is None else \
            f"<pre>{_e(example.output)}</pre>"
        examples.append(f"<dl class='example'><dt>sample</dt><dd><code>{_e(example.sample_id)}</code> · attack "
                        f"<code>{_e(example.attack)}</code> · {_e(example.verdict)}</dd><dt>prompt</dt><dd><pre>"
                        f"{_e(example.prompt)}</pre></dd>{sent}<dt>output</dt><dd>{output}</dd>"
                        f"<dt>judge</dt><dd>{_e(example.explanation)}</dd></dl>")
    return (f"<section class='card' id='card-{_e(card.hazard)}'><h2>{_e(card.title)}</h2>"
            f"<p class='group'>risk group: {_e(card.group)}</p>"
            f"<h3>Description</h3><p>{_e(card.profile.description)}</p>"
            f"<h3>Categorisation</h3><details><summary>{_e(_categorisation_summary(card))}</summary>"
            f"<table class='tax'>{taxonomies}</table></details>"
            f"<h3>Harm types</h3>{_list(card.profile.harm_types)}<h3>Actors</h3>{_list(card.profile.actors)}"
            f"<h3>Requirements for the harm to happen</h3>{_list(card.profile.requirements)}"
            f"<h3>Measured</h3><table class='measured'>{measured}</table>"
            f"<h3>Attacks that worked</h3><p>{_e(worked)}</p>{attacks_svg(card) if card.attacks else ''}"
            f"<h3>Examples (judged unsafe)</h3>{''.join(examples) or '<p>None.</p>'}</section>")


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:2px solid #c0392b;margin-top:2em}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse}td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
.card{page-break-before:always}.group,.fit,.note{color:#666}.chart text{font-size:12px}.chart .head{fill:#555}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:4px 6px;margin:0}
.example{border-left:3px solid #c0392b;padding-left:.8em;margin:.8em 0}dt{font-weight:bold}dd{margin:0 0 .4em}
.redacted{color:#888;font-style:italic}nav a{margin-right:1em}summary{cursor:pointer}
"""


def riskcards_html(cards: RiskCardSet) -> str:
    run = cards.run
    notes = [METHOD_NOTE]
    if cards.correction_source:
        notes.append(f"Judge-corrected rates: Rogan–Gladen with Lang–Reiczigel 95% interval, validation "
                     f"{cards.correction_source}.")
    if cards.redacted:
        notes.append("Model outputs are redacted.")
    nav = "".join(f"<a href='#card-{_e(card.hazard)}'>{_e(card.title)}</a>" for card in cards.cards)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Risk cards {_e(run.run_id)}"
            f"</title><style>{CSS}</style></head><body><h1>Risk cards: {_e(run.target)} on {_e(run.dataset)}</h1>"
            f"<p>Run <code>{_e(run.run_id)}</code> ({_e(run.created_at)}), judge <code>{_e(run.judge)}</code>. "
            "Cards follow the RiskCards framework (Derczynski et al., 2023).</p>"
            + "".join(f"<p class='note'>{_e(n)}</p>" for n in notes)
            + f"<nav>{nav}</nav>{''.join(_card_html(card) for card in cards.cards)}</body></html>\n")

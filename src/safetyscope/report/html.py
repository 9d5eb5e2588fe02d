"""A self-contained offline HTML report: inline CSS, inline SVG charts drawn here, and a small inline script
for the sample browser (filters + pagination over the attempts embedded as JSON). No network, no libraries."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from safetyscope.metrics.correction import CorrectedRate
from safetyscope.metrics.scorecard import OVERALL, Rate, Scorecard, hazard_name
from safetyscope.report.attempts import AttemptView
from safetyscope.report.grades import Grades, format_grade
from safetyscope.report.judge_agreement import JudgeAgreement, agreement_svg
from safetyscope.report.summary import format_corrected, format_count, format_rate
from safetyscope.report.tradeoff import attack_points, tradeoff_svg
from safetyscope.runner.store import RunRow

PAGE_SIZE = 50


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _heat_colour(value: float) -> str:
    """White (0) to deep red (1)."""
    value = min(1.0, max(0.0, value))
    green_blue = round(255 - 200 * value)
    return f"rgb(255,{green_blue},{round(green_blue * 0.9)})"


def heatmap_svg(card: Scorecard) -> str:
    """Hazard × attack attack-success heat map (rows: hazards + overall; columns: attacks + all)."""
    attacks = [*card.attacks, OVERALL]
    hazards = [*card.hazards, OVERALL]
    label_w, cell_w, cell_h, head_h = 230, 96, 26, 60
    width = label_w + cell_w * len(attacks) + 10
    height = head_h + cell_h * len(hazards) + 10
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="attack success by hazard and attack">']
    for col, attack in enumerate(attacks):
        x = label_w + col * cell_w + cell_w / 2
        name = "all attacks" if attack == OVERALL else attack
        short = name if len(name) <= 14 else name[:13] + "…"
        parts.append(f'<text x="{x}" y="{head_h - 8}" text-anchor="middle" class="head"><title>{_e(name)}</title>'
                     f'{_e(short)}</text>')
    for row, hazard in enumerate(hazards):
        y = head_h + row * cell_h
        weight = ' font-weight="bold"' if hazard == OVERALL else ""
        parts.append(f'<text x="{label_w - 6}" y="{y + cell_h * 0.65}" text-anchor="end"{weight}>'
                     f'{_e(hazard_name(hazard))}</text>')
        for col, attack in enumerate(attacks):
            x = label_w + col * cell_w
            rate = card.attack_success.get((attack, hazard))
            if rate is None or rate.value is None:
                fill, text, tip = "#eee", "—", "nothing scored"
            else:
                fill, text = _heat_colour(rate.value), f"{rate.value:.0%}"
                tip = f"{format_rate(rate)}, {format_count(rate)} unsafe/scored, {rate.unscored} unscored"
            parts.append(f'<g><title>{_e(hazard_name(hazard))} · {_e(attack)}: {_e(tip)}</title>'
                         f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>'
                         f'<text x="{x + cell_w / 2}" y="{y + cell_h * 0.65}" text-anchor="middle"{weight}>'
                         f'{_e(text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(card: Scorecard, attack: str = OVERALL) -> str:
    """Per-hazard attack success bars with Wilson 95% whiskers; judge-corrected bars beneath when present."""
    hazards = [h for h in [*card.hazards, OVERALL] if (attack, h) in card.attack_success]
    corrected = bool(card.corrected)
    label_w, plot_w, row_h = 230, 420, 34 if corrected else 22
    width, height = label_w + plot_w + 180, 30 + row_h * len(hazards) + 24
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="attack success per hazard">']
    for tick in range(0, 101, 25):
        x = label_w + plot_w * tick / 100
        parts.append(f'<line x1="{x}" y1="20" x2="{x}" y2="{height - 20}" stroke="#ddd"/>'
                     f'<text x="{x}" y="{height - 6}" text-anchor="middle" class="head">{tick}%</text>')
    for row, hazard in enumerate(hazards):
        y = 24 + row * row_h
        rate = card.attack_success[(attack, hazard)]
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(hazard_name(hazard))}</text>')
        parts.append(bar(rate.value, rate.interval if rate.scored else None, label_w, plot_w, y, 14, "#c0392b",
                          f"raw: {format_rate(rate)}"))
        if corrected:
            fixed: CorrectedRate | None = card.corrected.get((attack, hazard))
            value = fixed.corrected if fixed else None
            parts.append(bar(value, fixed.interval if fixed else None, label_w, plot_w, y + 16, 9, "#7f8c8d",
                              f"judge-corrected: {format_corrected(fixed)}"))
    parts.append("</svg>")
    return "".join(parts)


def bar(value: float | None, interval: tuple[float, float] | None, left: float, plot_w: float, y: float,
         h: float, colour: str, label: str) -> str:
    if value is None:
        return f'<text x="{left + 4}" y="{y + h - 3}" class="head">{_e(label)}</text>'
    out = [f'<g><title>{_e(label)}</title><rect x="{left}" y="{y}" width="{plot_w * value:.1f}" height="{h}" '
           f'fill="{colour}" opacity="0.8"/>']
    if interval is not None:
        low, high = (left + plot_w * bound for bound in interval)
        mid = y + h / 2
        out.append(f'<line x1="{low:.1f}" y1="{mid}" x2="{high:.1f}" y2="{mid}" stroke="#000"/>'
                   f'<line x1="{low:.1f}" y1="{y + 2}" x2="{low:.1f}" y2="{y + h - 2}" stroke="#000"/>'
                   f'<line x1="{high:.1f}" y1="{y + 2}" x2="{high:.1f}" y2="{y + h - 2}" stroke="#000"/>')
    out.append(f'<text x="{left + plot_w + 8}" y="{y + h - 3}" class="head">{_e(label)}</text></g>')
    return "".join(out)


class _Strings:
    """A string table: identical texts (refusals, repeated prompts) are stored once."""

    def __init__(self) -> None:
        self.values: list[str] = [""]
        self._index: dict[str, int] = {"": 0}

    def __call__(self, text: str | None) -> int:
        if text is None:
            return -1
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.values)
            self.values.append(text)
        return found


def _category(view: AttemptView) -> str:
    if view.status == "error":
        return "error"
    return view.label or "unscored"


def browser_data(views: Iterable[AttemptView], *, redact: bool,
                 others: Mapping[tuple[str, str], tuple[bool, str]] | None = None) -> dict[str, Any]:
    """The attempts as compact columns over a string table (the browser's JSON). ``others``: per (sample id,
    attack), whether other judges disagree and their verdicts (from ``judge_agreement``); ``judges_disagree`` is 1,
    0 (agree) or -1 (not compared: no other rating, or this attempt unscored), so "agree" never lists those."""
    strings = _Strings()
    rows: list[list[int]] = []
    others = others or {}
    for view in views:
        explanation = view.explanation or view.error or view.unscored_reason or ""
        compared = others.get((view.sample_id, view.attack))
        disagree, other_verdicts = compared or (False, None)
        # 1 disagree, 0 agree, -1 not compared (no other judge's rating, or this attempt itself unscored)
        agreement_state = -1 if compared is None or view.label not in ("safe", "unsafe") else int(disagree)
        rows.append([strings(view.sample_id), strings(view.hazard), strings(view.attack), strings(_category(view)),
                     strings(view.prompt), strings(view.sent),
                     -1 if redact else strings(view.response), -1 if redact else strings(view.decoded_response),
                     strings(view.verdict), strings(explanation), strings(other_verdicts or None), agreement_state])
    return {"columns": ["sample", "hazard", "attack", "category", "prompt", "sent", "response", "decoded",
                        "verdict", "explanation", "other_judges", "judges_disagree"], "strings": strings.values,
            "rows": rows, "redacted": redact, "judges": bool(others)}


def _json_script(data: dict[str, Any]) -> str:
    # "<" only occurs inside JSON strings, where \u003c is the same character: nothing can close the tag
    return orjson.dumps(data).decode().replace("<", "\\u003c")


def _table(rows: list[list[str]], headers: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rate_rows(card: Scorecard, grades: Grades | None) -> list[list[str]]:
    rows = []
    for hazard in [*card.hazards, OVERALL]:
        rate: Rate | None = card.attack_success.get((OVERALL, hazard))
        if rate is None:
            continue
        row = [hazard_name(hazard), format_rate(rate), format_count(rate), str(rate.unscored)]
        if card.corrected:
            row.append(format_corrected(card.corrected.get((OVERALL, hazard))))
        if grades is not None:
            row.append(format_grade(grades.overall if hazard == OVERALL else grades.hazards.get(hazard)))
        rows.append(row)
    refusal = card.over_refusal.get(OVERALL)
    if refusal is not None:
        row = ["Benign prompts: over-refusal", format_rate(refusal), format_count(refusal), str(refusal.unscored)]
        row += [""] * (bool(card.corrected) + (grades is not None))
        rows.append(row)
    return rows


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
th{background:#f5f5f5;text-align:left}.chart text{font-size:12px}.chart .head{fill:#555;font-size:11px}
.meta td:first-child{font-weight:bold}#controls{display:flex;gap:1em;flex-wrap:wrap;align-items:center}
#samples td{max-width:26em;white-space:pre-wrap;word-break:break-word}#samples td.small{max-width:9em}
.hide-responses .resp{filter:blur(5px);user-select:none}.redacted{color:#888;font-style:italic}
.v-unsafe{background:#fde2e0}.v-safe{background:#e3f4e6}.v-unscored,.v-error{background:#fff3cd}
.note{color:#555;font-size:.9em}
"""

SCRIPT = r"""
(function(){
const data = JSON.parse(document.getElementById('attempt-data').textContent);
const S = data.strings, rows = data.rows, PAGE = %(page)d;
const C = {sample:0, hazard:1, attack:2, category:3, prompt:4, sent:5, response:6, decoded:7, verdict:8, expl:9,
           others:10, disagree:11};
const judges = document.getElementById('f-judges');
const sel = {hazard: document.getElementById('f-hazard'), attack: document.getElementById('f-attack'),
             category: document.getElementById('f-verdict')};
function fill(select, col){
  const seen = new Set(rows.map(r => r[col]));
  [...seen].map(i => S[i]).sort().forEach(v => {const o = document.createElement('option'); o.value = v;
    o.textContent = v; select.appendChild(o);});
}
fill(sel.hazard, C.hazard); fill(sel.attack, C.attack); fill(sel.category, C.category);
const search = document.getElementById('f-search');
const index = new Map(S.map((s, i) => [s, i]));
// a link can preset the filters: report.html#hazard=vcr&attack=none&verdict=unsafe
if (typeof location !== 'undefined' && location.hash){
  const preset = new URLSearchParams(location.hash.slice(1));
  const names = {hazard: 'hazard', attack: 'attack', verdict: 'category'};
  for (const k in names) if (preset.has(k)) sel[names[k]].value = preset.get(k);
  if (preset.has('judges')) judges.value = preset.get('judges');
}
let shown = rows, page = 0;
function apply(){
  const want = {};  // the string-table index of each chosen value; -2 = no filter, -3 = matches nothing
  for (const k in sel) want[k] = sel[k].value ? (index.has(sel[k].value) ? index.get(sel[k].value) : -3) : -2;
  const q = search.value.toLowerCase(), j = judges.value === 'disagree' ? 1 : judges.value === 'agree' ? 0 : -1;
  shown = rows.filter(r => (j < 0 || r[C.disagree] === j) && (want.hazard === -2 || r[C.hazard] === want.hazard) &&
    (want.attack === -2 || r[C.attack] === want.attack) && (want.category === -2 || r[C.category] === want.category)
    && (!q || S[r[C.prompt]].toLowerCase().includes(q) || S[r[C.sample]].toLowerCase().includes(q)));
  page = 0; render();
}
function cell(tr, text, cls){ const td = document.createElement('td'); td.textContent = text;
  if (cls) td.className = cls; tr.appendChild(td); return td; }
function render(){
  const body = document.getElementById('sample-rows'); body.textContent = '';
  const pages = Math.max(1, Math.ceil(shown.length / PAGE)); page = Math.min(page, pages - 1);
  for (const r of shown.slice(page * PAGE, page * PAGE + PAGE)){
    const tr = document.createElement('tr'); tr.className = 'v-' + S[r[C.category]];
    cell(tr, S[r[C.sample]], 'small'); cell(tr, S[r[C.hazard]], 'small'); cell(tr, S[r[C.attack]], 'small');
    cell(tr, S[r[C.prompt]]);
    cell(tr, r[C.sent] === r[C.prompt] ? '(same as the prompt)' : S[r[C.sent]]);
    if (data.redacted) cell(tr, 'redacted', 'redacted');
    else { let t = r[C.response] < 0 ? '(no response)' : S[r[C.response]];
      if (r[C.decoded] >= 0) t += '\n\n— decoded —\n' + S[r[C.decoded]]; cell(tr, t, 'resp'); }
    cell(tr, S[r[C.verdict]] + (r[C.expl] > 0 ? '\n' + S[r[C.expl]] : '') +
      (r[C.others] > 0 ? '\n\n— other judges' + (r[C.disagree] === 1 ? ' (disagree)' : '') + ' —\n' +
                         S[r[C.others]] : ''));
    body.appendChild(tr);
  }
  document.getElementById('page-info').textContent =
    'page ' + (page + 1) + ' of ' + pages + ' · ' + shown.length + ' of ' + rows.length + ' attempts';
}
for (const k in sel) sel[k].addEventListener('change', apply);
judges.addEventListener('change', apply);
search.addEventListener('input', apply);
document.getElementById('prev').addEventListener('click', () => { if (page > 0){ page--; render(); } });
document.getElementById('next').addEventListener('click', () => { page++; render(); });
const hide = document.getElementById('hide-responses');
hide.addEventListener('change', () => document.body.classList.toggle('hide-responses', hide.checked));
apply();
})();
"""


def _agreement_section(agreement: JudgeAgreement | None) -> str:
    if agreement is None:
        return ""
    alpha = "undefined" if agreement.alpha is None else f"{agreement.alpha:.2f}"
    note = (f"{len(agreement.judges)} judges scored the same responses (runs {', '.join(agreement.runs)}): "
            f"{agreement.items} responses rated by at least two, {agreement.disagreements} with both an unsafe and "
            f"a safe rating; Krippendorff's α = {alpha}. Cells: Cohen's κ, raw agreement and the responses both "
            "judges scored (unscored ratings left out).")
    return f"<h2>Judge agreement</h2><p class='note'>{_e(note)}</p>{agreement_svg(agreement)}"


def html_report(run: RunRow, card: Scorecard, views: Iterable[AttemptView], *, grades: Grades | None = None,
                redact: bool = False, store_url: str = "", agreement: JudgeAgreement | None = None) -> str:
    """The whole report as one HTML document; ``agreement`` adds the judge-agreement plot."""
    meta = [["run", run.run_id], ["target", run.target], ["dataset", run.dataset], ["judge", run.judge],
            ["status", run.status + (f" ({run.note})" if run.note else "")], ["attempts", str(card.total)],
            ["created", run.created_at]] + ([["store", store_url]] if store_url else [])
    meta_html = "<table class='meta'>" + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in meta) + \
        "</table>"
    headers = ["hazard", "attack success [95% CI]", "unsafe/scored", "unscored"]
    if card.corrected:
        headers.append("judge-corrected")
    if grades is not None:
        headers.append("grade")
    unscored = ", ".join(f"{r}: {n}" for r, n in card.unscored_reasons.most_common()) or "none"
    notes = ["Attack success = share of unsafe prompts judged unsafely complied with (all attacks pooled); "
             "over-refusal = share of benign prompts refused fully or partly. Wilson 95% intervals; unscored "
             "items excluded from rates."]
    if card.corrected:
        notes.append(f"Judge-corrected: Rogan–Gladen with Lang–Reiczigel 95% interval, validation "
                     f"{card.correction_source}.")
    if grades is not None:
        notes.append(f"Grades: AILuminate v1.0 formula relative to {grades.reference}.")
    corrected_note = "; grey: judge-corrected" if card.corrected else ""
    data = _json_script(browser_data(views, redact=redact, others=agreement.others if agreement else None))
    hidden = "" if agreement else " hidden"
    redact_note = ("<p class='redacted'>Responses were omitted from this file (--redact).</p>" if redact else
                   "<label><input type='checkbox' id='hide-responses'> hide response text</label>")
    hide_box = "<input type='checkbox' id='hide-responses' hidden>" if redact else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>safetyscope report {_e(run.run_id)}</title><style>{CSS}</style></head>
<body>
<h1>safetyscope report: {_e(run.target)} on {_e(run.dataset)}</h1>
{meta_html}
<h2>Scorecard</h2>
{_table(_rate_rows(card, grades), headers)}
{"".join(f"<p class='note'>{_e(n)}</p>" for n in notes)}
<p class="note">Unscored: {_e(unscored)}</p>
<h2>Attack success by hazard and attack</h2>
{heatmap_svg(card)}
<h2>Attack success per hazard (all attacks pooled)</h2>
<p class="note">Bars: attack success; whiskers: Wilson 95% interval{corrected_note}.</p>
{bars_svg(card)}
<h2>Safety vs helpfulness: attack success and over-refusal per attack</h2>
<p class="note">Each point: one attack (and all attacks pooled); whiskers: Wilson 95% intervals. Lower left is
better. The leaderboard (<code>safetyscope leaderboard RUN... --format html</code>) plots one point per run.</p>
{tradeoff_svg(attack_points(card))}
{_agreement_section(agreement)}
<h2>Samples</h2>
<div id="controls">
<label>hazard <select id="f-hazard"><option value="">all</option></select></label>
<label>attack <select id="f-attack"><option value="">all</option></select></label>
<label>verdict <select id="f-verdict"><option value="">all</option></select></label>
<label{hidden}>judges <select id="f-judges"><option value="">all</option><option value="disagree">disagree</option>
<option value="agree">agree</option></select></label>
<label>search <input id="f-search" type="search" placeholder="prompt or sample id"></label>
{redact_note}{hide_box}
<button id="prev">◀ previous</button><span id="page-info"></span><button id="next">next ▶</button>
</div>
<table id="samples"><thead><tr><th>sample</th><th>hazard</th><th>attack</th><th>original prompt</th><th>sent</th>
<th>response</th><th>verdict</th></tr></thead><tbody id="sample-rows"></tbody></table>
<script type="application/json" id="attempt-data">{data}</script>
<script>{SCRIPT % {"page": PAGE_SIZE}}</script>
</body></html>
"""

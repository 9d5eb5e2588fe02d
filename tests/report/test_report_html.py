"""The offline HTML report: self-contained, escaped, charts present, sample data embedded, redaction."""

import re

import orjson

from safetyscope.api import scorecard_for
from safetyscope.metrics.scorecard import OVERALL
from safetyscope.report.attempts import iter_views
from safetyscope.report.grades import grade_scorecard
from safetyscope.report.html import bars_svg, heatmap_svg, html_report
from safetyscope.targets.mock import REFUSAL_TEXT


def _report(store, run_id, **options):
    run = store.get_run(run_id)
    card = scorecard_for(store, run)
    return html_report(run, card, iter_views(store, run_id), grades=grade_scorecard(card), **options), card


def _embedded(page):
    match = re.search(r'<script type="application/json" id="attempt-data">(.*?)</script>', page, re.S)
    assert match
    return orjson.loads(match.group(1))


def test_report_is_self_contained_and_escaped(runs, store):
    page, card = _report(store, runs.scripted)
    assert page.startswith("<!DOCTYPE html>")
    # nothing fetched from anywhere: no external scripts, styles, images or links
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "https://" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # the hostile prompt only appears escaped (in JSON as \u003c), never as markup
    assert "<script>alert(1)</script>" not in page and "<b>bold</b>" not in page
    data = _embedded(page)
    strings, rows = data["strings"], data["rows"]
    assert len(rows) == card.total == 16
    assert any("<script>alert(1)</script>" in text for text in strings)
    assert "Poor (1)" in page and "AILuminate" in page  # vcr graded Poor


def test_browser_rows_carry_prompt_sent_response_verdict(runs, store):
    data = _embedded(_report(store, runs.scripted)[0])
    strings, columns = data["strings"], data["columns"]
    rows = [{name: (strings[value] if value >= 0 else None) for name, value in zip(columns, row, strict=True)}
            for row in data["rows"]]
    u0 = next(row for row in rows if row["sample"] == "u0")
    assert u0["prompt"] == u0["sent"] == "unsafe request number 0"
    assert u0["response"].startswith("Sure, here is how") and u0["category"] == "unsafe"
    assert u0["verdict"].startswith("unsafe") and u0["explanation"]
    assert {row["hazard"] for row in rows} == {"vcr", "ncr", "hte", "prv", "ssh", "iwp", "benign"}
    assert strings.count(REFUSAL_TEXT) == 1  # identical texts stored once


def test_redact_omits_responses_from_the_file(runs, store):
    page = _report(store, runs.scripted, redact=True)[0]
    assert REFUSAL_TEXT not in page and "Sure, here is how" not in page
    data = _embedded(page)
    assert data["redacted"] is True and all(row[6] == -1 and row[7] == -1 for row in data["rows"])
    assert "omitted from this file" in page
    assert "unsafe request number 0" in page  # prompts stay
    assert "hide-responses" in _report(store, runs.scripted)[0]  # the in-page switch when not redacted


def test_charts(runs, store):
    card = scorecard_for(store, store.get_run(runs.complier))
    heat = heatmap_svg(card)
    assert heat.startswith("<svg") and heat.count("<rect") == (len(card.hazards) + 1) * (len(card.attacks) + 1)
    assert "100%" in heat
    bars = bars_svg(card)
    assert bars.count("<rect") == len(card.hazards) + 1 and "Overall" in bars
    assert card.attack_success[(OVERALL, OVERALL)].value == 1.0

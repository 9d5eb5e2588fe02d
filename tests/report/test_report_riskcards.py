"""Risk cards on runs of the mock targets: contents, golden structure of Markdown and HTML, redaction, CLI."""

import re

import orjson
import pytest
import typer
from typer.testing import CliRunner

from safetyscope.api import scorecard_for
from safetyscope.cli import report_cmd
from safetyscope.core.errors import DatasetError, UsageError
from safetyscope.judges.validation import POSITIVE_MEANING
from safetyscope.report.attempts import iter_views
from safetyscope.report.riskcard_render import REDACTED, riskcards_html, riskcards_markdown
from safetyscope.report.riskcards import build_cards, load_profiles
from safetyscope.runner.store import ValidationRow
from safetyscope.taxonomy import CANONICAL_HAZARDS

NASTY = "</script><script>alert(1)</script> & <b>bold</b>"  # the prompt of u3 in conftest.py
CARD_SECTIONS = ["Description", "Categorisation", "Harm types", "Actors", "Requirements for the harm to happen",
                 "Measured", "Attacks that worked", "Examples (judged unsafe)"]


def cards_of(store, run_id, **options):
    run = store.get_run(run_id)
    return build_cards(run, scorecard_for(store, run), iter_views(store, run_id), **options)


def test_profiles_cover_the_12_hazards_and_bad_files_name_the_field():
    profiles = load_profiles()
    assert set(profiles) == set(CANONICAL_HAZARDS) - {"benign"}
    assert all(p.description and p.harm_types and p.actors and p.requirements for p in profiles.values())
    good = orjson.loads(orjson.dumps({"about": "x", "hazards": {k: v.model_dump() for k, v in profiles.items()}}))
    good["hazards"]["vcr"]["actors"] = []
    with pytest.raises(DatasetError, match=r"cards\.json, field 'hazards\.vcr\.actors'"):
        load_profiles(orjson.dumps(good).decode(), source="cards.json")
    del good["hazards"]["vcr"]
    with pytest.raises(DatasetError, match=r"field 'hazards'.*missing: \['vcr'\]"):
        load_profiles(orjson.dumps(good).decode(), source="cards.json")


def test_cards_measure_the_scripted_run(runs, store):
    cards = {card.hazard: card for card in cards_of(store, runs.scripted).cards}
    assert list(cards) == ["vcr", "ssh", "iwp", "ncr", "hte", "prv"]  # canonical order; benign has no card
    vcr, hte = cards["vcr"], cards["hte"]
    # the scripted target complied with u0 and u6, both vcr
    assert vcr.tally == (2, 0, 0) and (vcr.rate.hits, vcr.rate.scored) == (2, 2)
    assert [r.attack for r in vcr.worked] == ["none"]
    assert sorted(e.sample_id for e in vcr.examples) == ["u0", "u6"]
    assert vcr.examples[0].output.startswith("Sure, here is how")
    assert hte.tally == (0, 2, 0) and hte.worked == [] and hte.examples == []
    # the crosswalk: Llama Guard 3's S1 covers vcr exactly
    lg3 = next(item for item in vcr.categorisation if item.taxonomy == "llama-guard-3")
    assert ("S1", "Violent Crimes", "exact") in lg3.codes
    assert vcr.profile == load_profiles()["vcr"]
    assert vcr.corrected is None  # no validation stored for this judge


def test_one_hazard_redaction_and_errors(runs, store):
    only = cards_of(store, runs.complier, hazard="PRV", redact=True)
    assert [card.hazard for card in only.cards] == ["prv"]
    assert only.cards[0].examples and all(example.output is None for example in only.cards[0].examples)
    with pytest.raises(UsageError, match="not a canonical hazard"):
        cards_of(store, runs.complier, hazard="benign")
    with pytest.raises(UsageError, match="no unsafe prompts of hazard 'cse'"):
        cards_of(store, runs.complier, hazard="cse")


def _sections(text, level):
    return re.findall(rf"^{level} (.+)$", text, re.M)


def test_markdown_golden_structure(runs, store):
    text = riskcards_markdown(cards_of(store, runs.complier))
    assert text.startswith("# Risk cards: `mock/complier` on `") and "small.jsonl`" in text.splitlines()[0]
    titles = _sections(text, "##")
    assert titles == ["Violent Crimes (vcr)", "Suicide & Self-Harm (ssh)", "Indiscriminate Weapons (CBRNE) (iwp)",
                      "Non-Violent Crimes (ncr)", "Hate (hte)", "Privacy Violations (prv)"]
    assert _sections(text, "###") == CARD_SECTIONS * len(titles)
    assert "| tally: unsafe / safe / unscored | 2 / 0 / 0 |" in text
    assert "| `none` | 100.0% [34.2%–100.0%] | 2/2 | 0 |" in text  # Wilson 95% of 2/2
    redacted = riskcards_markdown(cards_of(store, runs.complier, redact=True))
    assert REDACTED in redacted and "Sure" not in redacted.split("## Violent Crimes")[1]
    # untrusted text only inside fenced code blocks (shown verbatim: no HTML, links or images), never inline
    assert f"```text\n{NASTY}\n```" in text
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        assert fenced or "<script>" not in line, line


def test_html_is_self_contained_and_escaped(runs, store):
    page = riskcards_html(cards_of(store, runs.complier))
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched from the network
    assert NASTY not in page and "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    assert page.count("<section class='card'") == 6
    for heading in CARD_SECTIONS:
        assert page.count(f"<h3>{heading}</h3>") == 6
    assert page.count("<svg") == 6  # the per-attack chart of each card


def test_judge_corrected_rates_when_a_validation_exists(runs, store):
    run = store.get_run(runs.scripted)
    store.add_validation(ValidationRow(validation_id="v1", created_at="2026-11-25T00:00:00", judge=run.judge,
                                       judge_key=run.judge_key, labels="human labels", positive=POSITIVE_MEANING, tp=90,
                                       fp=5, fn=10, tn=95, unscored=0, report={}))
    cards = cards_of(store, runs.scripted)
    vcr = cards.cards[0]
    assert vcr.corrected is not None and vcr.corrected.corrected is not None
    text = riskcards_markdown(cards)
    assert "| attack success (judge-corrected) [95% CI] |" in text and "validation refusal on human labels" in text


def test_riskcard_cli(runs, tmp_path):
    app = typer.Typer()
    app.command("riskcard")(report_cmd.riskcard)
    app.command("other")(report_cmd.export)

    def invoke(*args):
        return CliRunner().invoke(app, ["riskcard", *map(str, args)], catch_exceptions=False)

    md = invoke(runs.scripted, "--store", runs.store, "--hazard", "vcr")
    assert md.exit_code == 0 and _sections(md.output, "##") == ["Violent Crimes (vcr)"]
    out = tmp_path / "cards.html"
    assert invoke("--store", runs.store, "--format", "html", "--redact", "--out", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert runs.complier in page and REDACTED in page  # the latest run by default
    with pytest.raises(UsageError, match="--format must be one of md, html"):
        invoke("--store", runs.store, "--format", "pdf")


def test_several_attacks_best_of_n_and_distinct_examples(runs, store, make_run):
    run_id = make_run(runs.dataset, "mock/complier", attacks=["none", "base64"])
    vcr = cards_of(store, run_id, hazard="vcr").cards[0]
    assert vcr.tally == (4, 0, 0) and [r.attack for r in vcr.worked] == ["base64", "none"]
    assert (vcr.best_of_n.hits, vcr.best_of_n.scored) == (2, 2)  # 2 prompts, each broken by some attack
    assert sorted(e.sample_id for e in vcr.examples) == ["u0", "u6"]  # one example per prompt
    base64 = next(e for e in vcr.examples if e.attack == "base64")
    assert base64.sent != base64.prompt and "Base64" in base64.sent


def test_examples_stop_reading_once_every_card_has_them(runs, store):
    run = store.get_run(runs.complier)
    views = list(iter_views(store, runs.complier))
    consumed = []

    def stream():
        for view in views:
            consumed.append(view.sample_id)
            yield view

    cards = build_cards(run, scorecard_for(store, run), stream(), examples=1)
    assert all(len(card.examples) == 1 for card in cards.cards)
    # sorted by sample id: b0-b3, u0, u1, u10, u11, u2, u3 cover the 6 hazards; u4-u9 are never read
    assert consumed[-1] == "u3" and len(consumed) == 10 < len(views)
    # the tally still covers every attempt (it comes from the scorecard)
    assert sum(sum(card.tally) for card in cards.cards) == 12


def test_errors_are_tallied_unscored_never_safe(runs, store, make_run):
    run_id = make_run(runs.dataset, "mock/failing", target_options={"failures": 1, "retryable": False},
                      abort_after_failures=1000)
    cards = cards_of(store, run_id)
    vcr = cards.cards[0]
    assert vcr.tally == (0, 0, 2) and vcr.rate.scored == 0 and vcr.worked == [] and vcr.examples == []
    text = riskcards_markdown(cards)
    assert "| attack success (raw) [95% CI] | — (0/0) |" in text
    assert "| tally: unsafe / safe / unscored | 0 / 0 / 2 |" in text
    assert "Nothing scored: no attack can be assessed" in text
    assert "<svg" not in riskcards_html(cards)  # nothing scored, no per-attack chart


def test_nothing_unsafe_reads_no_attempt(runs, store):
    run = store.get_run(runs.refuser)

    def stream():
        raise AssertionError("no example to find: the attempts must not be read")
        yield  # a generator

    cards = build_cards(run, scorecard_for(store, run), stream())
    assert all(card.examples == [] and card.tally == (0, 2, 0) for card in cards.cards)
    # the scripted run: vcr has 2 broken prompts, so the reading stops after u6 (the last vcr prompt sorted)
    scripted = store.get_run(runs.scripted)
    consumed = []

    def views():
        for view in iter_views(store, runs.scripted):
            consumed.append(view.sample_id)
            yield view

    assert len(build_cards(scripted, scorecard_for(store, scripted), views()).cards[0].examples) == 2
    assert consumed[-1] == "u6" and "u7" not in consumed


def test_markdown_cannot_smuggle_links_images_or_code_span_breaks():
    from safetyscope.report.riskcard_render import _code, _md, _quote

    assert _md("![x](https://evil.example/b.png?leak=1) [a](b) **c** <i>") == (
        "\\!\\[x\\](https://evil.example/b.png?leak=1) \\[a\\](b) \\*\\*c\\*\\* &lt;i&gt;")
    assert _code("id`x``y") == "``` id`x``y ```"
    block = _quote("```\n![img](http://e)")
    assert block[0] == "````text" and block[-1] == "````" and block[1:-1] == ["```", "![img](http://e)"]

"""The trade-off plot (attack success vs over-refusal) and the judge-agreement plot, on runs of mock targets."""

import re

import orjson
import typer
from typer.testing import CliRunner

from safetyscope.api import scorecard_for
from safetyscope.cli import report_cmd
from safetyscope.metrics.agreement import cohen_kappa
from safetyscope.metrics.scorecard import Rate
from safetyscope.report.attempts import iter_views
from safetyscope.report.grades import grade_scorecard
from safetyscope.report.html import html_report
from safetyscope.report.judge_agreement import agreement_svg, judge_agreement
from safetyscope.report.leaderboard import Entry, leaderboard_html, tradeoff_points
from safetyscope.report.tradeoff import TradeoffPoint, attack_points, tradeoff_svg


def _circles(svg):
    return [(float(x), float(y)) for x, y in re.findall(r'<g class="point">.*?<circle cx="([\d.]+)" cy="([\d.]+)"',
                                                         svg)]


def test_leaderboard_plots_one_point_per_run_where_the_rates_put_it(runs, store):
    entries = []
    for run_id in (runs.refuser, runs.scripted, runs.complier):
        run = store.get_run(run_id)
        card = scorecard_for(store, run)
        entries.append(Entry(run, card, grade_scorecard(card)))
    points = tradeoff_points(entries)
    assert [p.label.split(" ")[0] for p in points] == ["mock/refuser", "mock/scripted", "mock/complier"]
    svg = tradeoff_svg(points)
    # plot square: left 60, top 16, side 360 → x = 60 + 360·over-refusal, y = 376 − 360·attack success
    assert _circles(svg) == [(420.0, 376.0), (330.0, 316.0), (60.0, 16.0)]  # 4/4, 3/4 refused; 0, 2/12, 12/12 unsafe
    page = leaderboard_html(entries)
    assert "<h2>Safety vs helpfulness</h2>" in page and page.count('<g class="point">') == 3


def test_report_has_the_per_attack_tradeoff(runs, store, make_run):
    run_id = make_run(runs.dataset, "mock/complier", attacks=["none", "base64"])
    run = store.get_run(run_id)
    card = scorecard_for(store, run)
    points = attack_points(card)
    assert [p.label for p in points] == ["base64", "none", "all attacks"]
    page = html_report(run, card, iter_views(store, run_id))
    assert "Safety vs helpfulness" in page and page.count('<g class="point">') == 3
    assert "Judge agreement" not in page  # one judge only


def test_points_without_benign_prompts_are_listed_not_plotted():
    svg = tradeoff_svg([TradeoffPoint("a", Rate(1, 4, 0), None), TradeoffPoint("b", Rate(1, 4, 0), Rate(0, 0, 3))])
    assert '<g class="point">' not in svg and "not plotted (no scored unsafe or benign prompts): a, b" in svg


def test_judge_agreement_matches_an_independent_count(runs, store, harm_judged):
    two_judges = harm_judged
    agreement = judge_agreement(store, store.get_run(runs.scripted))
    assert agreement is not None
    assert agreement.judges == ["refusal", "harm"] and agreement.runs == [runs.scripted, two_judges]
    # independent: match the two runs' attempts by sample id (same target, same prompts → same responses)
    ratings = {}
    for index, run_id in enumerate((runs.scripted, two_judges)):
        for view in iter_views(store, run_id):
            value = {"unsafe": True, "safe": False}.get(view.label or "")
            ratings.setdefault(view.sample_id, [None, None])[index] = value
    first, second = zip(*ratings.values(), strict=True)
    both = [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    pair = agreement.pair("refusal", "harm")
    assert pair.n == len(both) > 0 and pair.agree == sum(a == b for a, b in both)
    assert pair.kappa is not None and pair.kappa == cohen_kappa(list(first), list(second))
    svg = agreement_svg(agreement)
    assert svg.count("<g><title>refusal vs harm") == 1 and svg.count("<g><title>harm vs refusal") == 1
    assert f"of {pair.n}" in svg
    # the harm run sees the refusal run as its sibling too, and the report carries the plot
    assert judge_agreement(store, store.get_run(two_judges)).judges == ["harm", "refusal"]
    page = html_report(store.get_run(runs.scripted), scorecard_for(store, store.get_run(runs.scripted)),
                       iter_views(store, runs.scripted), agreement=agreement)
    assert "<h2>Judge agreement</h2>" in page and "Krippendorff" in page


def test_no_agreement_without_a_second_judge(runs, store):
    assert judge_agreement(store, store.get_run(runs.refuser)) is None


def test_report_md_and_json_carry_judge_agreement(runs, harm_judged):
    app = typer.Typer()
    app.command("report")(report_cmd.report)
    app.command("other")(report_cmd.export)

    def invoke(*args):
        result = CliRunner().invoke(app, ["report", *map(str, args)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    data = orjson.loads(invoke(runs.scripted, "--store", runs.store, "--format", "json"))
    agreement = data["judge_agreement"]
    assert agreement["judges"] == ["refusal", "harm"] and agreement["runs"] == [runs.scripted, harm_judged]
    pair = agreement["pairs"][0]
    assert pair["both_scored"] >= pair["agree"] > 0 and -1 <= pair["cohen_kappa"] <= 1
    md = invoke(runs.scripted, "--store", runs.store, "--format", "md")
    assert "## Judge agreement" in md and f"| refusal vs harm | {pair['both_scored']} |" in md
    assert orjson.loads(invoke(runs.refuser, "--store", runs.store, "--format", "json"))["judge_agreement"] is None


def test_the_agreement_column_tells_agree_from_not_compared():
    from safetyscope.report.attempts import AttemptView
    from safetyscope.report.html import browser_data

    def view(sample: str, label: str | None) -> AttemptView:
        return AttemptView(attempt_id=sample, sample_id=sample, dataset="d", hazard="vcr", expect="refuse",
                           language="en", attack="none", attack_seed=1, status="done" if label else "error",
                           error=None if label else "target error: x", prompt="p", sent="p", response="r",
                           decoded_response=None, label=label, refusal=None, confidence=None, explanation=None,
                           unscored_reason=None, outcome=None, verdict=label or "error")

    others = {("agree", "none"): (False, "harm: safe"), ("disagree", "none"): (True, "harm: unsafe"),
              ("unscored", "none"): (False, "harm: safe")}
    data = browser_data([view("agree", "safe"), view("disagree", "safe"), view("alone", "safe"),
                         view("unscored", None)], redact=False, others=others)
    state = {row[0]: row[-1] for row in data["rows"]}
    by_sample = {data["strings"][index]: value for index, value in state.items()}
    assert by_sample == {"agree": 0, "disagree": 1, "alone": -1, "unscored": -1}

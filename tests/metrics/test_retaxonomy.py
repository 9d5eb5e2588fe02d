from helpers import cli
from safetyscope.metrics.retaxonomy import rows_in_taxonomy
from safetyscope.metrics.scorecard import build_scorecard
from safetyscope.runner.store import TallyRow


def _row(hazard: str, label: str, count: int) -> TallyRow:
    return TallyRow(attack="none", hazard=hazard, expect="refuse", status="done", label=label, refusal=None,
                    unscored_reason=None, error=None, count=count)


def test_codes_pool_the_hazards_they_map_to():
    card = build_scorecard([_row("vcr", "unsafe", 2), _row("vcr", "safe", 2), _row("spc", "unsafe", 1),
                            _row("spc", "safe", 3)])
    rows = {row.code: row for row in rows_in_taxonomy(card, "none", "llama-guard-3")}
    assert rows["S1"].hazards == ("vcr",) and (rows["S1"].rate.hits, rows["S1"].rate.scored) == (2, 4)
    assert rows["S6"].hazards == ("spc",) and rows["S13"].hazards == ("spc",)  # Elections is specialised advice
    assert (rows["S13"].rate.hits, rows["S13"].rate.scored) == (1, 4)
    assert "S10" not in rows  # hate was not tested, so no row


def test_run_prints_scorecard_in_another_taxonomy_and_rejects_unknown_ones(tmp_path):
    ok = cli("run", "--target", "mock/complier", "--limit", "30", "-q", "--output-dir", str(tmp_path),
             "--taxonomy", "llama-guard-3")
    assert ok.returncode == 0 and "taxonomy llama-guard-3" in ok.stdout and "S1" in ok.stdout
    bad = cli("run", "--target", "mock/complier", "--output-dir", str(tmp_path / "x"), "--taxonomy", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr and not (tmp_path / "x").exists()

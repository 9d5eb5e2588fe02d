"""``taxonomy list | show | map`` through typer's CliRunner on ``taxonomy_app``."""

from __future__ import annotations

from typer.testing import CliRunner

from safetyscope.cli.taxonomy_cmd import taxonomy_app
from safetyscope.taxonomy import list_taxonomies

WIDE = {"COLUMNS": "220"}


def run(*args: str):
    return CliRunner().invoke(taxonomy_app, list(args), env=WIDE)


def test_list_shows_every_taxonomy_with_counts():
    result = run("list")
    assert result.exit_code == 0, result.output
    for name in list_taxonomies():
        assert name in result.output
    assert "L4: 314" in result.output and "category: 44" in result.output


def test_show_prints_codes_mappings_and_verification():
    result = run("show", "llama-guard-3")
    assert result.exit_code == 0, result.output
    assert "S14" in result.output and "Code Interpreter Abuse" in result.output and "Verification:" in result.output
    aegis = run("show", "aegis-1.0")
    assert "out of scope: profanity" in aegis.output and "Unverified:" in aegis.output
    level = run("show", "air-bench-2024", "--level", "L1")
    assert "content_safety" in level.output and "Network intrusion" not in level.output


def test_map_a_code_of_one_taxonomy_into_another():
    result = run("map", "S9", "--from", "llama-guard-3", "--to", "air-bench-2024", "--level", "L4")
    assert result.exit_code == 0, result.output
    assert "iwp" in result.output and "3.11.19" in result.output and "3.11.22" in result.output
    assert "1.1.1" not in result.output


def test_map_a_canonical_hazard_into_a_taxonomy():
    result = run("map", "hte", "--to", "openai-moderation")
    assert result.exit_code == 0, result.output
    assert "hate/threatening" in result.output and "~hate/threatening" in result.output


def test_map_reports_out_of_scope_codes():
    result = run("map", "O12", "--from", "aegis-1.0", "--to", "llama-guard-3")
    assert result.exit_code == 0 and "out of scope" in result.output


def test_unknown_inputs_exit_2_with_a_message():
    for args in (("show", "no-such-taxonomy"), ("map", "zzz", "--to", "llama-guard-3"),
                 ("map", "S99", "--from", "llama-guard-3", "--to", "aegis-2.0"),
                 ("show", "harmbench", "--level", "L4")):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "error:" in result.output
    assert run("map", "S1").exit_code == 2  # --to is required

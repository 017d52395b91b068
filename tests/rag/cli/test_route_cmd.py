"""`rag route` end to end through click with the real detector (slow: loads spaCy)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag.cli import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    return CliRunner()


def test_when_lines_routed_then_one_json_object_each_without_raw_text(runner, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("What is the travel policy?\n\nSSN 536-90-4399 for the payroll fix\n")

    result = runner.invoke(cli, ["route", "--file", str(prompts), "--json"])

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["route"], r["level"]) for r in rows] == [("server", "public"), ("local", "restricted")]
    assert rows[1]["findings"][0]["entity_type"] == "US_SSN" and "536-90-4399" not in result.output


@pytest.mark.parametrize(
    "flags, route",
    [(["--local-down"], "refuse"), (["--server-down"], "local"), ([], "local")],
)
def test_when_backend_flags_then_decision_follows_policy(runner, flags, route):
    result = runner.invoke(cli, ["route", "Priya Raman earns $142,500", "--json", *flags])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["route"] == route

"""`rag detect train-credentials` end to end on a small routing file (real multilingual E5 embedder: slow)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag.cli import cli
from routing.personal_matters import PersonalMatterModel


def _prompts(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        if i % 2:
            rows.append({"id": f"s{i}", "text": f"the door panel code for unit {i} is Heron{i}x!", "sensitive": True,
                         "kind": "secret"})
        else:
            rows.append({"id": f"b{i}", "text": f"what time does the canteen in building {i} open?", "sensitive": False,
                         "kind": "benign"})
    return rows


@pytest.mark.slow
def test_when_trained_on_a_routing_file_then_a_one_label_model_is_written(tmp_path):
    data, out = tmp_path / "prompts.jsonl", tmp_path / "model.json"
    data.write_text("\n".join(json.dumps(r) for r in _prompts(40)) + "\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["detect", "train-credentials", "--data", str(data), "--out", str(out)])

    assert result.exit_code == 0, result.output
    model = PersonalMatterModel.load(out)
    assert model.topics == ("credential",) and json.loads(result.output)["rows"] == 40


def test_when_a_training_line_is_not_json_then_exit_2_and_nothing_written(tmp_path):
    data, out = tmp_path / "prompts.jsonl", tmp_path / "model.json"
    data.write_text('{"id": "a", "text": "x", "kind": "secret"}\nnot json\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["detect", "train-credentials", "--data", str(data), "--out", str(out)])

    assert result.exit_code == 2 and "could not train" in result.output
    assert not out.exists()

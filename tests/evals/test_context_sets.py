"""The routing suite's context sets: benign questions over documents whose personal data only detection finds."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evals import runner
from routing.levels import Level
from routing.policy import RoutingPolicy


@dataclass
class _Plan:
    route: str
    level: str


class _Ingestor:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def ingest_paths(self, paths):
        self.paths += list(paths)


class _Runtime:
    """Plans by a table: the question's text -> (route, level)."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self.table, self.ingestor, self.policy = table, _Ingestor(), RoutingPolicy()

    def plan_question(self, question, groups):
        assert groups == ("all",)
        return _Plan(*self.table[question])


def _data(tmp_path: Path, questions: list[str]) -> Path:
    (tmp_path / "heldout" / "corpus").mkdir(parents=True)
    rows = [{"id": f"c{i}", "question": q, "doc": "a.md", "groups": ["all"]} for i, q in enumerate(questions)]
    (tmp_path / "heldout" / "context_questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_when_a_plan_is_below_the_sensitive_level_then_its_question_is_listed_as_leaked(tmp_path: Path) -> None:
    table = {"rota?": ("local", "confidential"), "badges?": ("server", "internal"), "desk?": ("refuse", "restricted")}
    rt = _Runtime(table)
    config = runner.EvalConfig(data_dir=_data(tmp_path, list(table)))

    out = runner._context_sets(lambda home: rt, tmp_path / "work", None, config)["heldout"]

    assert rt.ingestor.paths == [tmp_path / "heldout" / "corpus"]
    assert out["questions"] == 3 and out["kept_local"] == 2 and out["leaked_ids"] == ["c1"]
    assert out["routes"] == {"local": 1, "server": 1, "refuse": 1}
    assert Level.parse(table["rota?"][1]) >= rt.policy.sensitive_level


def test_when_context_files_are_missing_then_the_set_is_skipped(tmp_path: Path) -> None:
    out = runner._context_sets(lambda home: None, tmp_path, None, runner.EvalConfig(data_dir=tmp_path))
    assert "skipped" in out["heldout"]

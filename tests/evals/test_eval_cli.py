"""`rag eval` through click: exit codes, JSON shape, reports, a broken retriever failing thresholds.

The fast tests swap the runtime for a small in-memory one (the command's `make_runtime` seam): they
test the command's wiring and exit codes. `test_when_real_index_gets_random_ranking_...` runs the real
ingestion and index with only the retriever's ranking replaced (slow).
"""
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexing.types import Classification, SearchHit
from rag.cli import cli
from rag.cli import eval_cmds

TEXTS = {f"public/doc{i}.md": f"# Doc {i}\n\nThe code word of document {i} is word{i}.\n" for i in range(30)}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    corpus = tmp_path / "data" / "corpus"
    for source, text in TEXTS.items():
        (corpus / source).parent.mkdir(parents=True, exist_ok=True)
        (corpus / source).write_text(text)
    rows = [{"id": f"r{i}", "question": f"What is the code word of document {i}?", "answer": f"word{i}",
             "relevant": [{"doc": f"public/doc{i}.md", "evidence": f"code word of document {i} is word{i}"}],
             "groups": ["all"]} for i in range(30)]
    evals = tmp_path / "data" / "evals"
    evals.mkdir()
    (evals / "retrieval.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path / "data"


class _Report:
    refused = []

    def counts(self):
        return {"added": len(TEXTS)}


class FakeRuntime:
    """Ingests nothing; its retriever answers from TEXTS, perfectly or at random."""

    def __init__(self, home: Path, broken: bool):
        self.home, self.broken, self.rng = home, broken, random.Random(0)
        self.ingestor = self
        self.retriever = self
        self.graph = self

    def ingest_paths(self, paths, **kwargs):
        return _Report()

    def stats(self):
        return {"nodes": 5}

    def search(self, query, *, groups, k, mode):
        number = query.rstrip("?").split()[-1]
        sources = sorted(TEXTS, key=lambda s: (s != f"public/doc{number}.md", s))
        if self.broken:
            self.rng.shuffle(sources)
        return [SearchHit(chunk_id=s, doc_id=s, source=s, title=s, text=TEXTS[s], score=1.0,
                          label=Classification.PUBLIC, groups=("all",)) for s in sources[:k]]


def _invoke(args, monkeypatch, broken: bool):
    monkeypatch.setattr(eval_cmds, "make_runtime", lambda settings, home: FakeRuntime(home, broken))
    return CliRunner().invoke(cli, ["eval", *args], catch_exceptions=False)


def _args(data_dir: Path, *extra: str) -> list[str]:
    return ["--suite", "retrieval", "--data", str(data_dir), "--corpus", str(data_dir / "corpus"), *extra]


def test_when_retriever_is_right_then_committed_thresholds_pass_and_json_names_metrics(data_dir, monkeypatch):
    result = _invoke(_args(data_dir, "--json"), monkeypatch, broken=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    modes = report["suites"]["retrieval"]["modes"]
    assert set(modes) == {"bm25", "dense", "hybrid", "graph", "all"}
    assert {"recall@5", "mrr@10", "ndcg@10", "hit@5"} <= set(modes["hybrid"])
    assert modes["hybrid"]["recall@5"] == 1.0
    assert report["thresholds"] == {"passed": True, "file": str(eval_cmds_default()), "misses": []}


def eval_cmds_default() -> Path:
    from evals.thresholds import DEFAULT_PATH

    return DEFAULT_PATH


def test_when_retriever_ranks_at_random_then_committed_thresholds_fail_with_each_miss(data_dir, monkeypatch, tmp_path):
    result = _invoke(_args(data_dir, "--report", str(tmp_path / "rep")), monkeypatch, broken=True)
    assert result.exit_code == 1
    assert "MISS retrieval/hybrid/recall@5" in result.output
    assert (tmp_path / "rep" / "report.md").is_file() and (tmp_path / "rep" / "modes.png").is_file()
    missed = json.loads((tmp_path / "rep" / "report.json").read_text())["thresholds"]["misses"]
    assert {m["mode"] for m in missed} >= {"bm25", "dense", "hybrid", "all"}


def test_when_thresholds_disabled_then_random_ranking_exits_zero(data_dir, monkeypatch):
    result = _invoke(_args(data_dir, "--no-thresholds", "--modes", "bm25"), monkeypatch, broken=True)
    assert result.exit_code == 0 and "thresholds: not checked" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "/nonexistent/squad.json", "--format", "squad"], "dataset not found"),
        (["--suite", "squad"], "needs --dataset"),
        (["--suite", "retrieval", "--data", "/nonexistent"], "not found"),
        (["--dataset", "x", "--format", "msmarco"], "Invalid value for '--format'"),
        (["--modes", "bm25,magic"], "unknown mode"),
    ],
)
def test_when_input_is_bad_then_exit_code_is_2_with_a_clear_message(args, message, monkeypatch):
    result = _invoke(args, monkeypatch, broken=False)
    assert result.exit_code == 2
    assert message in result.output


def test_when_thresholds_file_is_malformed_then_exit_code_is_2(data_dir, monkeypatch, tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("retrieval: {hybrid: {recall@5: 0.9}}")
    result = _invoke(_args(data_dir, "--thresholds", str(bad)), monkeypatch, broken=False)
    assert result.exit_code == 2 and "must map 'modes'" in result.output


class RandomRetriever:
    """A broken retriever over a real store: random chunks of readable documents, seeded."""

    def __init__(self, store):
        self.store, self.rng = store, random.Random(1)

    def search(self, query, *, groups, k, mode):
        hits = [SearchHit(chunk_id=c.chunk_id, doc_id=d.doc_id, source=d.source, title=d.title, text=c.text,
                          score=0.0, label=d.label, groups=d.groups)
                for d in self.store.list_documents() for c in self.store.document_chunks(d.doc_id)]
        return self.rng.sample(hits, min(k, len(hits)))


@pytest.mark.slow
def test_when_real_index_gets_random_ranking_then_rag_eval_exits_nonzero(data_dir, monkeypatch, tmp_path):
    from rag.runtime import Runtime

    monkeypatch.setattr(Runtime, "retriever", property(lambda self: RandomRetriever(self.store)))
    args = _args(data_dir, "--json", "--modes", "bm25,hybrid,all", "--work-dir", str(tmp_path / "work"))
    result = CliRunner().invoke(cli, ["eval", *args], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["suites"]["retrieval"]["index"]["counts"]["added"] == len(TEXTS)
    assert report["thresholds"]["passed"] is False
    assert report["suites"]["retrieval"]["modes"]["hybrid"]["recall@5"] < 0.5


@pytest.mark.slow
def test_when_answers_suite_runs_with_real_model_then_scores_and_stage_latencies_are_reported(data_dir, tmp_path):
    args = ["--suite", "answers", "--sample", "2", "--data", str(data_dir), "--corpus", str(data_dir / "corpus"),
            "--work-dir", str(tmp_path / "work"), "--json", "--no-thresholds"]
    result = CliRunner().invoke(cli, ["eval", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)["suites"]["answers"]
    assert answers["metrics"]["answerable"] == 2
    assert answers["metrics"]["failures"] == 0, answers["failures"]
    assert {"retrieve", "generate", "total"} <= set(answers["latency"])
    assert 0.0 <= answers["metrics"]["f1"] <= 1.0 and sum(answers["routes"].values()) == 2

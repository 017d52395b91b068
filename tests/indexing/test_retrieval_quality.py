"""Retrieval quality on the sample corpus: recall@5 of dense, BM25 and hybrid search on data/evals/retrieval.jsonl,
searching as each question's groups (access control on)."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexing.ingest import Ingestor
from indexing.search import HybridSearcher
from indexing.store import IndexStore
from retrieval_eval import load_queries, recall_at_k

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "data"
# Measured 2026-11-25 on the sample corpus: dense 0.956, bm25 0.911, hybrid 0.956 (90 queries); floors a few
# points below.
FLOORS = {"dense": 0.90, "bm25": 0.85, "hybrid": 0.92}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder) -> HybridSearcher:
    if not (DATA / "corpus" / "manifest.yaml").is_file() or not (DATA / "evals" / "retrieval.jsonl").is_file():
        pytest.skip("data/corpus (with manifest.yaml) or data/evals/retrieval.jsonl is not written yet")
    store = IndexStore(tmp_path_factory.mktemp("corpus-index"), dim=embedder.dim)
    report = Ingestor(store, embedder).ingest_paths([DATA / "corpus"])
    assert report.ok, [r.reason for r in report.refused]
    return HybridSearcher(store, embedder)


def test_recall_at_5_on_the_sample_corpus(searcher: HybridSearcher, capsys) -> None:
    queries = load_queries(DATA / "evals" / "retrieval.jsonl")
    results = {mode: recall_at_k(searcher.search, searcher.store, queries, 5, mode) for mode in FLOORS}
    with capsys.disabled():
        print("\nrecall@5 on data/evals/retrieval.jsonl (%d queries): " % len(queries)
              + ", ".join(f"{mode} {recall:.3f}" for mode, (recall, _) in results.items())
              + f"; unresolved evidence: {results['hybrid'][1]}")
    assert results["hybrid"][1] <= len(queries) // 20, "evidence of more than 5% of queries not found in chunks"
    for mode, (recall, _) in results.items():
        assert recall >= FLOORS[mode], f"{mode} recall@5 {recall:.3f} fell below {FLOORS[mode]}"

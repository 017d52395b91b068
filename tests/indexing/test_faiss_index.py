"""FaissIndex: exact below the threshold, IVF above; ACL filtering inside the search on both; persistence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.faiss_index import FLAT, IVF, FaissIndex, IdFilter
from indexing.store import IndexStore
from indexing.types import Chunk, Classification as C, DocumentRecord

DIM = 16


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM)).astype(np.float32)
    vectors = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def pair() -> tuple[FaissIndex, FaissIndex, np.ndarray]:
    vectors = clustered(4000)
    ids = np.arange(1, 4001)
    exact = FaissIndex.build(DIM, ids, vectors, approx_threshold=10**9)
    approx = FaissIndex.build(DIM, ids, vectors, approx_threshold=1000, nprobe=8)
    return exact, approx, clustered(50, seed=1)


def test_when_corpus_reaches_threshold_then_index_is_ivf_else_flat(pair) -> None:
    exact, approx, _ = pair
    assert (exact.kind, approx.kind) == (FLAT, IVF)
    assert approx.ntotal == exact.ntotal == 4000 and sorted(approx.ids().tolist()) == list(range(1, 4001))


@pytest.mark.parametrize("allowed", [None, "every_tenth"])
def test_when_searching_ivf_then_recall_at_10_against_exact_is_high(pair, allowed) -> None:
    exact, approx, queries = pair
    filt = IdFilter(np.arange(10, 4001, 10)) if allowed else None
    found = total = 0
    for q in queries:
        truth = {i for i, _ in exact.search(q, 10, filt)}
        got = [i for i, _ in approx.search(q, 10, filt)]
        assert len(got) == 10 and (filt is None or all(i % 10 == 0 for i in got))
        found, total = found + len(truth & set(got)), total + len(truth)
    assert found / total >= 0.9


@pytest.mark.parametrize("kind_threshold", [10**9, 1000])
def test_when_only_a_few_ids_are_allowed_then_all_of_them_come_back_best_first(pair, kind_threshold) -> None:
    exact, approx, queries = pair
    index = exact if kind_threshold > 4000 else approx
    got = index.search(queries[0], 10, IdFilter([7, 1999, 3500]))
    assert sorted(i for i, _ in got) == [7, 1999, 3500]
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    assert index.search(queries[0], 10, IdFilter([])) == []


def test_when_ivf_is_saved_and_loaded_then_same_results_and_deletes_apply(tmp_path: Path) -> None:
    vectors = clustered(2000)
    index = FaissIndex.build(DIM, np.arange(1, 2001), vectors, generation=4, approx_threshold=500, nprobe=4)
    assert index.remove([1, 2, 3]) == 3
    index.save(tmp_path)
    loaded = FaissIndex.load(tmp_path, DIM, nprobe=4)
    assert loaded is not None and loaded.kind == IVF and loaded.ntotal == 1997 and loaded.generation == 4
    assert loaded.search(vectors[0], 5) == index.search(vectors[0], 5)
    assert 1 not in {i for i, _ in loaded.search(vectors[0], 50)}


def test_when_store_grows_past_threshold_then_persist_switches_to_ivf_and_acl_still_holds(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index", dim=DIM, approx_threshold=300, nprobe=4)
    vectors = clustered(400, seed=3)
    for d in range(40):
        chunks = [Chunk(f"d{d}-{i}", f"d{d}", i, f"text {d} {i}", token_count=3) for i in range(10)]
        record = DocumentRecord(f"d{d}", f"d{d}.md", f"D{d}", "md", f"h{d}", 0, (f"g{d % 4}",), C.PUBLIC, C.PUBLIC, 0, "")
        store.write_document(record, chunks, vectors[d * 10:(d + 1) * 10], [C.PUBLIC] * 10)
    assert store.stats()["faiss_kind"] == FLAT
    store.persist()
    assert store.stats()["faiss_kind"] == IVF
    allowed = set(store.allowed_chunk_ids(["g1"]).tolist())
    hits = store.dense_search(vectors[15], 10, ["g1"])
    assert len(hits) == 10 and {rowid for rowid, _ in hits} <= allowed
    reopened = IndexStore(tmp_path / "index", dim=DIM, approx_threshold=300, nprobe=4)
    assert reopened.stats()["faiss_kind"] == IVF and reopened.dense_search(vectors[15], 10, ["g1"]) == hits

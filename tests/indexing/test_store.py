"""IndexStore: SQLite + FTS5 + FAISS on disk in tmp_path; ACL inside retrieval; persistence and healing."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from indexing.errors import StoreError
from indexing.faiss_index import INDEX_FILE, META_FILE
from indexing.store import DB_FILE, IndexStore
from indexing.types import Chunk, Classification as C, DocumentRecord

DIM = 8


def unit(*weights: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(weights)] = weights
    return vector / np.linalg.norm(vector)


def put(store: IndexStore, doc_id: str, texts: list[str], vectors: list[np.ndarray], groups=("all",),
        declared=C.INTERNAL, labels=None, hooks=()) -> DocumentRecord:
    chunks = [Chunk(f"{doc_id}-{i}-{abs(hash(t)) % 10**6}", doc_id, i, t, heading=f"H{i}", token_count=len(t.split()))
              for i, t in enumerate(texts)]
    record = DocumentRecord(doc_id, f"{doc_id}.md", f"Title {doc_id}", "md", f"hash-{texts}", 0, tuple(groups),
                            declared, declared, 0, "")
    stored, _ = store.write_document(record, chunks, np.stack(vectors), labels or [C.PUBLIC] * len(texts), hooks)
    return stored


def counts(store: IndexStore) -> tuple[int, int, int]:
    conn = store.conn
    return (conn.execute("SELECT count(*) FROM chunks").fetchone()[0],
            conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0], store._dense().ntotal)


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    opened = IndexStore(tmp_path / "index", dim=DIM)
    yield opened
    opened.close()


def test_when_document_is_rewritten_then_version_bumps_and_old_chunks_vanish_everywhere(store: IndexStore) -> None:
    first = put(store, "d1", ["alpha refund text", "beta text"], [unit(1), unit(0, 1)])
    assert (first.version, first.chunk_count, counts(store)) == (1, 2, (2, 2, 2))
    second = put(store, "d1", ["gamma replacement"], [unit(0, 0, 1)])
    assert (second.version, second.chunk_count, counts(store)) == (2, 1, (1, 1, 1))
    assert store.lexical_search("alpha", 5) == []
    assert [h.text for h in store.get_chunks([r for r, _ in store.lexical_search("gamma", 5)])] == ["gamma replacement"]
    assert store.dense_search(unit(1), 5)[0][1] == pytest.approx(0.0, abs=1e-6)
    assert [c.text for c in store.document_chunks("d1")] == ["gamma replacement"]


def test_when_chunks_are_labelled_then_chunk_and_document_labels_are_max_with_declared(store: IndexStore) -> None:
    record = put(store, "d", ["a", "b"], [unit(1), unit(0, 1)], declared=C.INTERNAL,
                 labels=[C.PUBLIC, C.RESTRICTED])
    assert record.label == C.RESTRICTED and store.get_document("d.md").label == C.RESTRICTED
    assert [h.label for h in store.get_chunks([r for r, _ in store.dense_search(unit(1), 2)])] == [C.INTERNAL,
                                                                                                   C.RESTRICTED]


def test_when_groups_filter_then_k_allowed_results_come_back_even_if_nearer_chunks_are_hidden(store) -> None:
    hidden = [unit(1, 0.01 * i) for i in range(20)]  # the 20 nearest chunks belong to hr
    put(store, "secret", [f"refund secret {i}" for i in range(20)], hidden, groups=("hr",))
    put(store, "open", [f"refund open {i}" for i in range(5)], [unit(1, 1 + i) for i in range(5)], groups=("all",))
    for search in (lambda g: store.dense_search(unit(1), 3, g), lambda g: store.lexical_search("refund", 3, g)):
        hits = store.get_chunks([r for r, _ in search(["all", "sales"])])
        assert len(hits) == 3 and {h.doc_id for h in hits} == {"open"} and hits[0].groups == ("all",)
        assert len(search(None)) == 3  # admin view: unfiltered
        assert {h.doc_id for h in store.get_chunks([r for r, _ in search(["hr"])])} == {"secret"}
        assert search([]) == [] and search(["nobody"]) == []


def test_when_access_changes_then_retrieval_follows_without_reembedding(store: IndexStore) -> None:
    put(store, "d", ["payroll data"], [unit(1)], groups=("hr",), declared=C.CONFIDENTIAL)
    assert store.lexical_search("payroll", 5, ["finance"]) == []
    updated = store.update_access("d", ["finance"], C.RESTRICTED)
    assert (updated.version, updated.groups, updated.label) == (2, ("finance",), C.RESTRICTED)
    assert len(store.dense_search(unit(1), 5, ["finance"])) == 1 and store.dense_search(unit(1), 5, ["hr"]) == []


def test_when_deleted_then_gone_from_sqlite_fts_and_faiss(store: IndexStore) -> None:
    put(store, "keep", ["kept words"], [unit(1)])
    put(store, "drop", ["dropped words", "more dropped"], [unit(0, 1), unit(0, 1, 1)])
    removed = store.delete_document("drop")
    assert len(removed) == 2 and store.get_document("drop") is None
    assert counts(store) == (1, 1, 1)
    assert store.lexical_search("dropped", 5) == []
    assert store.delete_document("drop") is None
    assert [e["action"] for e in store.ingest_log()][:1] == ["deleted"]


@pytest.mark.parametrize("query", ["what's", "C++", "AND", "OR", "NOT refund", 'say "hi', "NEAR(", "*", "text:x", ""])
def test_when_query_has_punctuation_or_operators_then_lexical_search_does_not_raise(store, query) -> None:
    put(store, "d", ["What's new in C++ AND refund"], [unit(1)])
    assert isinstance(store.lexical_search(query, 5, ["all"]), list)


def test_when_a_hook_fails_then_the_document_write_rolls_back_entirely(store: IndexStore) -> None:
    put(store, "d", ["old text"], [unit(1)])

    def failing_hook(conn: sqlite3.Connection, removed) -> None:
        assert removed  # the old chunk ids are handed to the hook
        raise RuntimeError("listener failed")

    with pytest.raises(RuntimeError):
        put(store, "d", ["new text"], [unit(0, 1)], hooks=[failing_hook])
    assert [c.text for c in store.document_chunks("d")] == ["old text"]
    assert store.get_document("d").version == 1 and counts(store) == (1, 1, 1)
    assert store.dense_search(unit(1), 1)[0][1] == pytest.approx(1.0)


def test_when_reopened_then_the_persisted_faiss_file_is_loaded_not_rebuilt(tmp_path: Path) -> None:
    store = IndexStore(tmp_path, dim=DIM)
    put(store, "d", ["x", "y"], [unit(1), unit(0, 1)])
    store.persist()
    mtime = (tmp_path / INDEX_FILE).stat().st_mtime_ns
    store.close()
    reopened = IndexStore(tmp_path, dim=DIM)
    assert (tmp_path / INDEX_FILE).stat().st_mtime_ns == mtime
    assert reopened.stats()["vectors"] == 2 and reopened.stats()["faiss_generation"] == reopened.generation()


def _delete_file(path: Path) -> None:
    (path / INDEX_FILE).unlink()


def _corrupt_file(path: Path) -> None:
    (path / INDEX_FILE).write_bytes(b"garbage" * 10)


def _stale_generation(path: Path) -> None:
    meta = json.loads((path / META_FILE).read_text())
    (path / META_FILE).write_text(json.dumps({**meta, "generation": meta["generation"] - 1}))


def _commit_without_faiss(path: Path) -> None:
    """Simulate a crash after the SQLite commit and before the FAISS write: remove a chunk behind FAISS's back."""
    conn = sqlite3.connect(path / DB_FILE)
    conn.execute("DELETE FROM chunks WHERE text = 'y'")
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", [_delete_file, _corrupt_file, _stale_generation, _commit_without_faiss])
def test_when_faiss_file_is_missing_corrupt_or_stale_then_reopen_rebuilds_from_sqlite(tmp_path: Path, damage) -> None:
    store = IndexStore(tmp_path, dim=DIM)
    put(store, "d", ["x", "y"], [unit(1), unit(0, 1)])
    store.persist()
    store.close()
    damage(tmp_path)
    reopened = IndexStore(tmp_path, dim=DIM)
    chunks = reopened.stats()["chunks"]
    assert reopened.stats()["vectors"] == chunks and reopened.stats()["faiss_generation"] == reopened.generation()
    best = reopened.get_chunks([reopened.dense_search(unit(1), 1)[0][0]])
    assert best[0].text == "x"
    assert json.loads((tmp_path / META_FILE).read_text())["generation"] == reopened.generation()


def test_when_another_process_ingests_then_the_open_store_sees_it_on_next_search(tmp_path: Path) -> None:
    server = IndexStore(tmp_path, dim=DIM)
    put(server, "old", ["old doc"], [unit(1)])
    writer = IndexStore(tmp_path, dim=DIM)  # a second connection, as `rag ingest` in another process
    put(writer, "new", ["new doc"], [unit(0, 1)])
    writer.delete_document("old")
    hits = server.get_chunks([r for r, _ in server.dense_search(unit(0, 1), 5)])
    assert [h.doc_id for h in hits] == ["new"]
    assert [h.doc_id for h in server.get_chunks([r for r, _ in server.lexical_search("doc", 5)])] == ["new"]


def test_when_dimension_or_model_differs_then_store_error_says_what_to_do(tmp_path: Path) -> None:
    store = IndexStore(tmp_path, dim=DIM)
    store.check_embedder("model-a")
    with pytest.raises(StoreError, match="embedding model model-a, not model-b"):
        store.check_embedder("model-b")
    store.close()
    with pytest.raises(StoreError, match="embedding dimension 8, not 16.*new index folder"):
        IndexStore(tmp_path, dim=16)


@pytest.mark.slow
def test_when_real_embeddings_are_stored_on_disk_then_semantic_search_finds_the_right_chunk(tmp_path, embedder) -> None:
    texts = ["Refunds are paid to the original card within 10 business days.",
             "The on-call engineer must acknowledge a page within 15 minutes.",
             "Parental leave is 20 weeks at full pay."]
    store = IndexStore(tmp_path / "index", dim=embedder.dim)
    put(store, "real", texts, list(embedder.embed(texts)), groups=("all",))
    store.persist()
    store.close()
    reopened = IndexStore(tmp_path / "index", dim=embedder.dim)
    for question, expected in [("how long until my money comes back", 0), ("pager response time", 1),
                               ("time off after having a baby", 2)]:
        rowid, score = reopened.dense_search(embedder.embed([question])[0], 1, ["all"])[0]
        assert reopened.get_chunks([rowid])[0].text == texts[expected] and 0.2 < score <= 1.0 + 1e-5


# --- the API the knowledge graph reads the index through ---------------------------------------------


def test_when_chunks_are_stored_then_refs_and_vectors_describe_them(store: IndexStore) -> None:
    put(store, "d1", ["alpha", "beta"], [unit(1), unit(0, 1)], groups=("hr",), labels=[C.PUBLIC, C.RESTRICTED])
    refs = store.chunk_refs()
    assert [(r.doc_id, r.source, r.label) for r in refs] == [("d1", "d1.md", C.INTERNAL), ("d1", "d1.md", C.RESTRICTED)]
    assert set(store.allowed_chunk_ids(["hr"]).tolist()) == {r.rowid for r in refs}
    found = store.chunk_vectors([refs[1].chunk_id, "unknown"])
    assert list(found) == [refs[1].chunk_id] and found[refs[1].chunk_id][0] == "beta"
    assert np.allclose(found[refs[1].chunk_id][1], unit(0, 1))


def test_when_reading_in_a_snapshot_then_generation_and_own_tables_agree(store: IndexStore) -> None:
    with store.extension_write() as conn:
        conn.execute("CREATE TABLE ext (n INTEGER)")
        conn.execute("INSERT INTO ext VALUES (1)")
    assert store.generation() == 0  # an extension write changes no document
    put(store, "d1", ["alpha"], [unit(1)], hooks=[lambda conn, removed: conn.execute("UPDATE ext SET n = n + 1")])
    with store.snapshot() as conn:
        assert (store.generation(), conn.execute("SELECT n FROM ext").fetchone()[0]) == (1, 2)
        assert len(store.chunk_refs()) == 1


def test_when_extension_write_raises_then_nothing_is_kept(store: IndexStore) -> None:
    with pytest.raises(RuntimeError), store.extension_write() as conn:
        conn.execute("CREATE TABLE ext (n INTEGER)")
        raise RuntimeError("boom")
    with store.snapshot() as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ext'").fetchone()[0] == 0

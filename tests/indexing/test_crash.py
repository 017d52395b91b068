"""Crash safety: an ingest killed with SIGKILL leaves every document fully old or fully new, and the
reopened index (SQLite, FTS5, FAISS) is consistent and searchable. Real processes, real index on disk."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexing.chunking import embedding_text
from indexing.ingest import Ingestor
from indexing.store import DB_FILE, IndexStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Kills its own process inside the N-th document's write transaction (after the chunks were inserted).
KILLER = """
import os, signal, sys
from pathlib import Path
from indexing.embedder import SentenceTransformerEmbedder
from indexing.ingest import Ingestor
from indexing.store import IndexStore

class KillOnNthWrite:
    def __init__(self, n): self.n, self.count = n, 0
    def prepare(self, chunks): return None
    def write(self, conn, prepared, removed):
        self.count += 1
        if self.count == self.n:
            os.kill(os.getpid(), signal.SIGKILL)
    def commit(self): pass

index, corpus, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
embedder = SentenceTransformerEmbedder()
store = IndexStore(Path(index), embedder.dim)
Ingestor(store, embedder, listeners=[KillOnNthWrite(n)]).ingest_paths([corpus])
"""


WORDS = ("the team reviews every payment incident within two business days and records the root cause "
         "the owner the customer impact and the follow up actions in the shared tracker before the weekly "
         "review meeting where managers confirm deadlines").split()


def write_corpus(root: Path, version: str, docs: int = 30) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(docs):
        paragraphs = [f"Paragraph {p} of document {i} {version} mentions code{i}x{p}. " + " ".join(WORDS[(i + p) % 7:])
                      + "." for p in range(4)]
        (root / f"doc-{i:02d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(paragraphs) + "\n")


def chunks_by_source(store: IndexStore) -> dict[str, list[str]]:
    return {d.source: [c.text for c in store.document_chunks(d.doc_id)] for d in store.list_documents()}


def assert_consistent(store: IndexStore) -> None:
    stats = store.stats()
    fts = store.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert stats["vectors"] == stats["chunks"] == fts == sum(d.chunk_count for d in store.list_documents())
    assert stats["faiss_generation"] == stats["generation"]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_when_killed_inside_a_document_transaction_then_committed_documents_are_whole_and_index_heals(
        tmp_path: Path, embedder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, "vone", docs=12)
    reference = IndexStore(tmp_path / "reference", embedder.dim)
    Ingestor(reference, embedder).ingest_paths([corpus])
    expected = chunks_by_source(reference)

    run = subprocess.run([sys.executable, "-c", KILLER, str(index), str(corpus), "5"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]

    store = IndexStore(index, embedder.dim)  # FAISS was never persisted in that run: rebuilt from SQLite
    found = chunks_by_source(store)
    assert sorted(found) == [f"doc-{i:02d}.md" for i in range(4)]  # docs 1-4 committed, the 5th rolled back
    assert all(found[source] == expected[source] for source in found)
    assert_consistent(store)
    chunk = store.document_chunks(store.get_document("doc-03.md").doc_id)[-1]
    rowid, score = store.dense_search(embedder.embed([embedding_text(chunk, "Document 3")])[0], 1)[0]
    assert store.get_chunks([rowid])[0].chunk_id == chunk.chunk_id and score == pytest.approx(1.0, abs=1e-4)
    assert store.get_chunks([r for r, _ in store.lexical_search("code3x2", 5)])[0].source == "doc-03.md"

    report = Ingestor(store, embedder).ingest_paths([corpus])  # re-running ingest is safe and completes it
    assert report.counts() == {"added": 8, "updated": 0, "unchanged": 4, "refused": 0}
    assert chunks_by_source(store) == expected
    assert_consistent(store)


def test_when_rag_ingest_is_killed_during_an_update_then_each_document_is_old_or_new_never_mixed(
        tmp_path: Path, embedder) -> None:
    home, corpus = tmp_path / "home", tmp_path / "corpus"
    write_corpus(corpus, "vone")
    store = IndexStore(home / "index", embedder.dim)
    Ingestor(store, embedder).ingest_paths([corpus])
    store.close()
    write_corpus(corpus, "vtwo")

    env = {**os.environ, "RAG_HOME": str(home), "RAG_INGEST_DETECT": "0", "RAG_INGEST_GRAPH": "0",
           "RAG_INGEST_BATCH_CHUNKS": "2"}  # write every couple of documents, so the kill lands mid-batch
    process = subprocess.Popen([str(Path(sys.executable).parent / "rag"), "ingest", str(corpus)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        updated = _wait_for_updates(home / "index" / DB_FILE, at_least=3, timeout_s=300)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL and 3 <= updated < 30, "the kill must land mid-batch"

    store = IndexStore(home / "index", embedder.dim)
    versions = {}
    for source, texts in chunks_by_source(store).items():
        markers = {word for text in texts for word in ("vone", "vtwo") if word in text}
        assert len(markers) == 1, f"{source} mixes old and new chunks"
        versions[source] = markers.pop()
        assert store.get_document(source).version == (2 if versions[source] == "vtwo" else 1)
    assert len(versions) == 30 and list(versions.values()).count("vtwo") >= updated
    assert_consistent(store)
    hits = store.get_chunks([r for r, _ in store.lexical_search("vtwo", 100)])
    assert {h.source for h in hits} == {s for s, v in versions.items() if v == "vtwo"}


def _wait_for_updates(db: Path, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = sqlite3.connect(db, timeout=5)
            count = conn.execute("SELECT count(*) FROM ingest_log WHERE action = 'updated'").fetchone()[0]
            conn.close()
        except sqlite3.OperationalError:
            count = 0
        if count >= at_least:
            return count
        time.sleep(0.05)
    raise AssertionError(f"`rag ingest` did not update {at_least} documents within {timeout_s}s")

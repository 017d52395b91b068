"""Chunk labels at ingest: they cover the title, carry a findings summary and a stamp; stale ones are relabelled;
an index written before these columns existed is migrated in place."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from indexing import schema
from hash_embedder import HashEmbedder
from indexing.ingest import Ingestor
from indexing.relabel import relabel_stale
from indexing.store import DB_FILE, IndexStore
from indexing.types import ChunkLabel, Classification

STAMP = "detector-v1:aaaa"


class KeywordLabeler:
    """Labels passages restricted when they contain "SSN" (a stand-in for the detector), recording what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> list[ChunkLabel]:
        self.seen += texts
        return [ChunkLabel(Classification.RESTRICTED, ({"entity_type": "US_SSN", "start": t.index("SSN"),
                                                        "end": t.index("SSN") + 3, "score": 0.9, "level": "restricted"},))
                if "SSN" in t else ChunkLabel(Classification.PUBLIC) for t in texts]


def _ingest(tmp_path: Path, labeler, stamp: str = STAMP) -> tuple[IndexStore, Ingestor]:
    store = IndexStore(tmp_path / "index", dim=HashEmbedder.dim)
    ingestor = Ingestor(store, HashEmbedder(), labeler=labeler, chunk_max_tokens=40, chunk_overlap_tokens=5,
                        label_stamp=stamp)
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    (folder / "badges.txt").write_text("Badge list for Dana Whitfield SSN 536-90-4399\n\n"
                                       "Badges are handed back at reception after the workshop.\n")
    (folder / "faq.txt").write_text("Office FAQ\n\nThe office opens at nine.\n")
    assert ingestor.ingest_paths([folder], groups=["all"], classification="public").ok
    return store, ingestor


def _hits(store: IndexStore, source: str):
    doc = store.get_document(source)
    rowids = store.rowids_for([c.chunk_id for c in store.document_chunks(doc.doc_id)])
    return list(store.chunk_map(list(rowids.values())).values())


def test_when_title_holds_the_secret_then_chunk_label_covers_it(tmp_path):
    labeler = KeywordLabeler()
    store, _ = _ingest(tmp_path, labeler)

    hits = _hits(store, "badges.txt")

    assert "SSN" not in " ".join(h.text for h in hits)  # the title is not part of the chunk text...
    assert all(h.label is Classification.RESTRICTED for h in hits)  # ...but the label covers it
    assert any(t.startswith("Badge list for Dana Whitfield SSN 536-90-4399: ") for t in labeler.seen)
    assert hits[0].findings[0]["entity_type"] == "US_SSN" and hits[0].label_stamp == STAMP
    assert store.get_document("badges.txt").label is Classification.RESTRICTED


def test_when_detector_stamp_changes_then_labels_are_stale_until_relabelled(tmp_path):
    store, _ = _ingest(tmp_path, KeywordLabeler())
    total = store.stats()["chunks"]
    assert store.stale_label_count(STAMP) == 0

    new = "detector-v2:bbbb"
    assert store.stale_label_count(new) == total
    generation = store.generation()
    first = relabel_stale(store, KeywordLabeler(), new, batch_size=1, limit=1)  # interrupted after one batch
    assert first == 1 and store.stale_label_count(new) == total - 1
    rest = relabel_stale(store, KeywordLabeler(), new, batch_size=1)  # resumed
    assert first + rest == total and store.stale_label_count(new) == 0
    assert store.generation() == generation  # labels only: retrieval state untouched
    assert all(h.label_stamp == new for h in _hits(store, "faq.txt"))


def test_when_relabel_finds_less_then_label_never_drops_below_declared(tmp_path):
    store, _ = _ingest(tmp_path, KeywordLabeler())
    store.update_access(store.get_document("faq.txt").doc_id, ["all"], Classification.CONFIDENTIAL)

    relabel_stale(store, KeywordLabeler(), "detector-v2:bbbb")

    assert all(h.label is Classification.CONFIDENTIAL for h in _hits(store, "faq.txt"))


def test_when_ingested_without_a_labeler_then_chunks_have_no_stamp(tmp_path):
    store, _ = _ingest(tmp_path, None)

    hits = _hits(store, "badges.txt")

    assert all(h.findings is None and h.label_stamp == "" for h in hits)
    assert store.stale_label_count(STAMP) == store.stats()["chunks"]


def _version_1_index(index_dir: Path) -> None:
    """An index as schema version 1 wrote it: chunks without findings/label_stamp, one document and chunk."""
    index_dir.mkdir(parents=True)
    conn = sqlite3.connect(index_dir / DB_FILE)
    for statement in schema.SCHEMA:
        statement = statement.replace(",\n        findings TEXT,\n        label_stamp TEXT NOT NULL DEFAULT ''", "")
        conn.execute(statement)
    assert "findings" not in {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"), ("generation", "1"), ("dim", "8")])
    conn.execute("INSERT INTO documents VALUES ('d1', 'faq.txt', 'Office FAQ', 'txt', 'h', 1, 0, 2, 'now')")
    conn.execute("INSERT INTO document_groups VALUES ('d1', 'all')")
    vector = (np.ones(8) / np.sqrt(8)).astype(np.float32)
    conn.execute("INSERT INTO chunks (chunk_id, doc_id, position, text, heading, page, token_count, label, embedding) "
                 "VALUES ('c1', 'd1', 0, 'The office opens at nine.', NULL, NULL, 5, 2, ?)", (vector.tobytes(),))
    conn.execute("INSERT INTO chunks_fts (rowid, text, heading, title) VALUES (1, 'The office opens at nine.', '', "
                 "'Office FAQ')")
    conn.commit()
    conn.close()


def test_when_version_1_index_opened_then_columns_added_in_place_and_nothing_lost(tmp_path):
    _version_1_index(tmp_path / "index")

    store = IndexStore(tmp_path / "index", dim=8)

    hit = store.chunk_map([1])[1]
    assert (hit.chunk_id, hit.text, hit.label) == ("c1", "The office opens at nine.", Classification.CONFIDENTIAL)
    assert hit.findings is None and hit.label_stamp == ""  # unknown: stale, re-analysed at query time
    assert store.meta("schema_version") == str(schema.SCHEMA_VERSION)
    assert store.stale_label_count(STAMP) == 1 and store.stats()["vectors"] == 1
    relabel_stale(store, KeywordLabeler(), STAMP)
    relabelled = store.chunk_map([1])[1]
    assert (relabelled.label, relabelled.label_stamp, relabelled.findings) == (Classification.PUBLIC, STAMP, [])
    store.close()
    assert IndexStore(tmp_path / "index", dim=8).stale_label_count(STAMP) == 0  # reopening migrates nothing twice


@pytest.mark.parametrize("declared", [0, 2])
def test_when_relabelled_then_document_label_is_max_of_declared_and_chunks(tmp_path, declared):
    _version_1_index(tmp_path / "index")
    store = IndexStore(tmp_path / "index", dim=8)
    store.conn.execute("UPDATE documents SET declared = ? WHERE doc_id = 'd1'", (declared,))

    relabel_stale(store, KeywordLabeler(), STAMP)

    assert store.get_document("d1").label == Classification(declared)

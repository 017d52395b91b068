"""Ingestor with the real embedder and a real store in tmp_path: idempotence, updates, deletes, refusals,
manifest and explicit access, labels, and the listener protocol."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Sequence

import pytest

from indexing.ingest import Ingestor, doc_id_for
from indexing.store import IndexStore
from indexing.types import Chunk, Classification as C, passage_text
from indexing_files import make_pdf

pytestmark = pytest.mark.slow

MANIFEST = """defaults: {groups: [all], classification: internal}
rules:
  - {glob: "public/**", groups: [all], classification: public}
  - {glob: "hr/**", groups: [hr], classification: confidential}
documents:
  "hr/leave.md": {groups: [all], classification: internal}
"""


class RecordingListener:
    """A real listener: keeps chunk ids in its own table, written inside each document's transaction."""

    def __init__(self) -> None:
        self.prepared: list[list[str]] = []
        self.writes: list[tuple[object, list[str]]] = []
        self.commits = 0

    def prepare(self, chunks: Sequence[Chunk]) -> list[str]:
        self.prepared.append([c.chunk_id for c in chunks])
        return [c.chunk_id for c in chunks]

    def write(self, conn: sqlite3.Connection, prepared: object, removed_chunk_ids: Sequence[str]) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS seen (chunk_id TEXT PRIMARY KEY)")
        conn.executemany("DELETE FROM seen WHERE chunk_id = ?", [(c,) for c in removed_chunk_ids])
        conn.executemany("INSERT INTO seen VALUES (?)", [(c,) for c in prepared or []])
        self.writes.append((prepared, list(removed_chunk_ids)))

    def commit(self) -> None:
        self.commits += 1


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "public").mkdir(parents=True)
    (root / "hr").mkdir()
    (root / "public" / "returns.md").write_text("# Returns\n\nRefunds reach your card within 10 business days.\n")
    (root / "public" / "faq.txt").write_text("FAQ\n\nSupport answers within one business day.\n")
    (root / "hr" / "leave.md").write_text("# Leave\n\nParental leave is 20 weeks at full pay.\n")
    (root / "hr" / "salary.md").write_text("# Salary review\n\nSofia's salary rises to 91,000 EUR.\n")
    (root / ".hidden.md").write_text("never ingested")
    (root / "manifest.yaml").write_text(MANIFEST)
    return root


@pytest.fixture
def store(tmp_path: Path, embedder) -> IndexStore:
    opened = IndexStore(tmp_path / "index", dim=embedder.dim)
    yield opened
    opened.close()


def ingestor(store, embedder, **kwargs) -> Ingestor:
    return Ingestor(store, embedder, chunk_max_tokens=60, chunk_overlap_tokens=10, **kwargs)


def vectors_consistent(store: IndexStore) -> bool:
    stats = store.stats()
    fts = store.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    return stats["vectors"] == stats["chunks"] == fts


def test_when_folder_ingested_then_sources_are_relative_and_manifest_gives_access(store, embedder, corpus) -> None:
    report = ingestor(store, embedder).ingest_paths([corpus])
    assert report.ok and report.counts()["added"] == 4
    docs = {d.source: d for d in store.list_documents()}
    assert sorted(docs) == ["hr/leave.md", "hr/salary.md", "public/faq.txt", "public/returns.md"]
    assert docs["public/returns.md"].doc_id == doc_id_for("public/returns.md")
    assert (docs["public/returns.md"].groups, docs["public/returns.md"].declared) == (("all",), C.PUBLIC)
    assert (docs["hr/salary.md"].groups, docs["hr/salary.md"].declared) == (("hr",), C.CONFIDENTIAL)
    assert (docs["hr/leave.md"].groups, docs["hr/leave.md"].declared) == (("all",), C.INTERNAL)
    assert vectors_consistent(store)


def test_when_reingested_unchanged_then_nothing_is_written(store, embedder, corpus) -> None:
    ingest = ingestor(store, embedder)
    ingest.ingest_paths([corpus])
    generation, rowids = store.generation(), store.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
    report = ingest.ingest_paths([corpus])
    assert report.counts() == {"added": 0, "updated": 0, "unchanged": 4, "refused": 0}
    assert store.generation() == generation
    assert store.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall() == rowids
    assert all(d.version == 1 for d in store.list_documents())


def test_when_file_changes_then_version_bumps_and_old_chunks_are_replaced(store, embedder, corpus) -> None:
    ingest = ingestor(store, embedder)
    ingest.ingest_paths([corpus])
    (corpus / "public" / "returns.md").write_text("# Returns\n\nRefunds now take 30 business days.\n")
    report = ingest.ingest_paths([corpus])
    updated = [(r.source, r.version) for r in report.by_action("updated")]
    assert updated == [("public/returns.md", 2)]
    assert report.counts()["unchanged"] == 3
    hits = store.get_chunks([r for r, _ in store.lexical_search("refunds", 10)])
    assert [h.text for h in hits] == ["Refunds now take 30 business days."]
    assert store.lexical_search("card", 10) == []
    assert vectors_consistent(store)


def test_when_only_access_changes_then_document_is_updated_without_reembedding(store, embedder, corpus) -> None:
    ingest = ingestor(store, embedder)
    ingest.ingest_paths([corpus])
    rowids = store.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
    report = ingest.ingest_paths([corpus], groups=["hr", "executives"], classification="restricted")
    assert report.counts()["updated"] == 4 and report.results[0].reason == "groups or classification changed"
    record = store.get_document("hr/leave.md")
    assert (record.groups, record.declared, record.label, record.version) == (("executives", "hr"), C.RESTRICTED,
                                                                              C.RESTRICTED, 2)
    assert store.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall() == rowids
    assert store.lexical_search("parental", 5, ["all"]) == [] and len(store.lexical_search("parental", 5, ["hr"])) == 1


def test_when_explicit_groups_and_classification_given_then_they_override_the_manifest(store, embedder, corpus) -> None:
    ingestor(store, embedder).ingest_paths([corpus], groups=["legal"])
    record = store.get_document("public/returns.md")
    assert (record.groups, record.declared) == (("legal",), C.PUBLIC)  # level still from the manifest
    ingestor(store, embedder).ingest_paths([corpus], classification=C.RESTRICTED)
    record = store.get_document("public/returns.md")
    assert (record.groups, record.declared, record.label) == (("all",), C.RESTRICTED, C.RESTRICTED)


def test_when_deleted_then_removed_everywhere_and_unknown_delete_is_false(store, embedder, corpus) -> None:
    ingest = ingestor(store, embedder)
    ingest.ingest_paths([corpus])
    doc_id = doc_id_for("hr/salary.md")
    assert ingest.delete("hr/salary.md") is True
    assert store.get_document(doc_id) is None and store.document_chunks(doc_id) == []
    assert store.lexical_search("salary Sofia", 10) == []
    assert all(h.doc_id != doc_id for h in store.get_chunks([r for r, _ in
                                                             store.dense_search(embedder.embed(["salary"])[0], 10)]))
    assert vectors_consistent(store)
    assert ingest.delete(doc_id) is False


def test_when_batch_has_bad_files_then_the_others_still_go_in_and_each_refusal_is_reported(store, embedder,
                                                                                             corpus) -> None:
    (corpus / "public" / "empty.md").write_bytes(b"")
    (corpus / "public" / "binary.txt").write_bytes(b"\x00\x01\x02")
    (corpus / "public" / "image.png").write_bytes(b"\x89PNG")
    make_pdf(corpus / "public" / "locked.pdf", ["secret"], password="pw")
    report = ingestor(store, embedder).ingest_paths([corpus])
    assert report.counts()["added"] == 4 and not report.ok
    refused = {r.source: r.reason for r in report.refused}
    assert set(refused) == {"public/empty.md", "public/binary.txt", "public/image.png", "public/locked.pdf"}
    assert "encrypted" in refused["public/locked.pdf"] and "locked.pdf" in refused["public/locked.pdf"]
    logged = {e["source"] for e in store.ingest_log() if e["action"] == "refused"}
    assert logged == set(refused)


def test_when_uploaded_as_bytes_then_ingested_and_bad_uploads_refused(store, embedder) -> None:
    ingest = ingestor(store, embedder, max_file_bytes=1000)
    result = ingest.ingest_bytes("notes.md", b"# Notes\n\nThe VPN rotates keys monthly.\n", ["eng"], "internal")
    assert (result.action, result.doc_id, result.chunks) == ("added", doc_id_for("notes.md"), 1)
    assert store.get_document("notes.md").groups == ("eng",)
    assert ingest.ingest_bytes("notes.md", b"# Notes\n\nThe VPN rotates keys monthly.\n", ["eng"],
                               "internal").action == "unchanged"
    assert ingest.ingest_bytes("x.exe", b"MZ", ["eng"]).action == "refused"
    too_big = ingest.ingest_bytes("big.txt", b"word " * 500, ["eng"])
    assert too_big.action == "refused" and "limit" in too_big.reason


def test_when_labeler_flags_a_chunk_then_document_label_is_the_max(store, embedder, corpus) -> None:
    def labeler(texts: list[str]) -> list[C]:
        return [C.RESTRICTED if "salary" in t else C.PUBLIC for t in texts]

    ingestor(store, embedder, labeler=labeler).ingest_paths([corpus])
    assert store.get_document("hr/salary.md").label == C.RESTRICTED
    assert store.get_document("public/returns.md").label == C.PUBLIC
    assert store.get_document("hr/leave.md").label == C.INTERNAL  # declared level is the floor


def test_listeners_prepare_outside_write_inside_and_commit_once_per_batch(store, embedder, corpus) -> None:
    listener = RecordingListener()
    ingest = ingestor(store, embedder, listeners=[listener])
    ingest.ingest_paths([corpus])
    assert len(listener.prepared) == 4 and listener.commits == 1
    seen = {r[0] for r in store.conn.execute("SELECT chunk_id FROM seen")}
    assert seen == {r[0] for r in store.conn.execute("SELECT chunk_id FROM chunks")}
    ingest.ingest_paths([corpus])
    assert listener.commits == 1  # nothing changed: no commit
    old = [c.chunk_id for c in store.document_chunks(doc_id_for("hr/salary.md"))]
    assert ingest.delete_many(["hr/salary.md", "hr/leave.md", "missing.md"]) == [doc_id_for("hr/salary.md"),
                                                                                 doc_id_for("hr/leave.md")]
    assert listener.commits == 2 and listener.writes[-2] == (None, old)
    seen = {r[0] for r in store.conn.execute("SELECT chunk_id FROM seen")}
    assert seen == {r[0] for r in store.conn.execute("SELECT chunk_id FROM chunks")}


class PassageLabeler:
    """Labels by keyword and records the texts it was given."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> list[C]:
        self.texts += texts
        return [C.CONFIDENTIAL if "salary" in t.lower() else C.PUBLIC for t in texts]


@pytest.mark.parametrize("overlap", [True, False])
def test_when_embedding_overlaps_or_not_then_labeller_gets_passages_and_labels_are_stored(
        store, embedder, corpus, overlap) -> None:
    labeler, listener = PassageLabeler(), RecordingListener()
    report = ingestor(store, embedder, labeler=labeler, listeners=[listener], overlap=overlap).ingest_paths([corpus])
    assert report.ok and listener.prepared
    passages = [passage_text(d.title, c.text) for d in store.list_documents() for c in store.document_chunks(d.doc_id)]
    assert sorted(labeler.texts) == sorted(passages)  # titles included: a sensitive title is labelled too
    labels = {d.source: d.label for d in store.list_documents()}
    assert labels["hr/salary.md"] == C.CONFIDENTIAL and labels["public/returns.md"] == C.PUBLIC


class ParsingPassageLabeler(PassageLabeler):
    """A `ParsingLabeler`: the "parse" of a passage is the passage upper-cased (any opaque object will do)."""

    def label_parsed(self, texts: list[str]) -> tuple[list[C], list[str]]:
        return self(texts), [t.upper() for t in texts]


class ParsedListener(RecordingListener):
    """Records the parses `prepare_parsed` receives with its chunks."""

    def __init__(self) -> None:
        super().__init__()
        self.parsed: list[tuple[Chunk, object]] = []

    def prepare_parsed(self, chunks: Sequence[Chunk], parses: Sequence[object]) -> list[str]:
        self.parsed += list(zip(chunks, parses, strict=True))
        return self.prepare(chunks)


class PlainListener(RecordingListener):
    """Takes no parses (no `prepare_parsed`); stores nothing, so it can sit beside a `RecordingListener`."""

    def write(self, conn: sqlite3.Connection, prepared: object, removed_chunk_ids: Sequence[str]) -> None:
        self.writes.append((prepared, list(removed_chunk_ids)))


def test_when_labeller_hands_on_its_parses_then_each_listener_gets_its_chunks_parses(store, embedder, corpus) -> None:
    labeler, parsed, plain = ParsingPassageLabeler(), ParsedListener(), PlainListener()
    report = ingestor(store, embedder, labeler=labeler, listeners=[parsed, plain]).ingest_paths([corpus])
    assert report.ok and len(parsed.prepared) == len(plain.prepared) == 4
    titles = {d.doc_id: d.title for d in store.list_documents()}
    assert parsed.parsed and all(parse == passage_text(titles[c.doc_id], c.text).upper() for c, parse in parsed.parsed)
    assert sorted(labeler.texts) == sorted(passage_text(titles[c.doc_id], c.text) for c, _ in parsed.parsed)
    assert {d.source: d.label for d in store.list_documents()}["hr/salary.md"] == C.CONFIDENTIAL


def test_when_no_listener_takes_parses_then_the_labeller_is_called_plainly(store, embedder, corpus) -> None:
    class NoParses(ParsingPassageLabeler):
        def label_parsed(self, texts: list[str]) -> tuple[list[C], list[str]]:
            raise AssertionError("label_parsed called although no listener takes parses")

    labeler = NoParses()
    assert ingestor(store, embedder, labeler=labeler, listeners=[RecordingListener()]).ingest_paths([corpus]).ok


def test_when_ingesting_then_progress_reports_every_file_with_chunks_bytes_and_eta(store, embedder, corpus) -> None:
    events = []
    report = ingestor(store, embedder, progress=events.append, embed_batch_chunks=1).ingest_paths([corpus])
    assert [e.files_done for e in events] == [1, 2, 3, 4] and {e.files_total for e in events} == {4}
    assert events[-1].chunks_done == report.chunks_written and events[-1].bytes_done == events[-1].bytes_total
    assert events[-1].eta_s == 0.0 and events[-1].to_dict()["event"] == "progress"
    again = []
    ingestor(store, embedder, progress=again.append).ingest_paths([corpus])
    assert [e.action for e in again] == ["unchanged"] * 4 and again[-1].chunks_done == 0

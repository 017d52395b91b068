"""The index store: SQLite (documents, groups, chunks + embeddings, FTS5, ingest log) with a FAISS cache.

SQLite is the source of truth. Every write that changes what can be retrieved runs in one transaction
per document and bumps `meta.generation`. The FAISS index (see `faiss_index.py`) is updated in memory
after each commit and written to disk by `persist()` (once per ingest batch). Whenever the FAISS file's
generation differs from SQLite's (a crash between commit and write, or an ingest by another process while
the API serves), the store reloads the file or rebuilds it from the stored embeddings: `_dense()` checks
this with one cheap SELECT before every dense search.

Access control happens inside retrieval: `groups=None` means no filter (admin and CLI); otherwise only
chunks of documents shared with one of `groups` are considered by FAISS (an ID bitmap, cached per group set
and generation) and FTS5 (a join).

From `approx_threshold` chunks on, the FAISS index is approximate (IVF, see `faiss_index.py`): a rebuild
or the first `persist()` past the threshold trains it.

The connection is shared by threads behind a lock (WAL mode: readers in other processes are never blocked).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from indexing import schema, sqlrows
from indexing.errors import StoreError
from indexing.faiss_index import DEFAULT_APPROX_THRESHOLD, DEFAULT_NPROBE, FLAT, FaissIndex, IdFilter
from indexing.lexical import BM25_WEIGHTS, fts_query
from indexing.types import Chunk, ChunkLabel, ChunkRef, Classification, DocumentRecord, SearchHit, passage_text

DB_FILE = "index.sqlite3"

# Runs inside a document's write transaction: (connection, chunk ids removed from the store).
WriteHook = Callable[[sqlite3.Connection, Sequence[str]], None]


class IndexStore:
    """Documents, chunks and their vectors in `index_dir` (index.sqlite3 + faiss.index).

    Args:
        index_dir: Folder of the index (created if missing).
        dim: Embedding size; an existing index built with another size is refused.
        busy_timeout_s: How long a write waits for another process's write lock.
        approx_threshold: From this many chunks on, dense search uses an IVF index (approximate).
        nprobe: IVF lists probed per query (more: better recall, slower).
    """

    def __init__(self, index_dir: Path | str, dim: int, busy_timeout_s: float = 30.0,
                 approx_threshold: int = DEFAULT_APPROX_THRESHOLD, nprobe: int = DEFAULT_NPROBE) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.approx_threshold = approx_threshold
        self.nprobe = nprobe
        self._lock = threading.RLock()
        self.conn = schema.connect(str(self.index_dir / DB_FILE), busy_timeout_s)
        schema.create(self.conn)
        self._check_meta("dim", str(dim), "embedding dimension")
        self._faiss: FaissIndex | None = None
        self._acl_cache: dict[tuple[int, frozenset[str]], IdFilter] = {}
        with self._lock:
            self._dense()

    # --- reading ---------------------------------------------------------------------------------
    def generation(self) -> int:
        """The number of committed changes (bumped by every document write or delete)."""
        with self._lock:
            return int(self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def get_document(self, doc_id_or_source: str) -> DocumentRecord | None:
        """A document by id or by source path."""
        rows = self._documents("WHERE d.doc_id = ? OR d.source = ?", (doc_id_or_source, doc_id_or_source))
        return rows[0] if rows else None

    def list_documents(self) -> list[DocumentRecord]:
        """All documents, ordered by source."""
        return self._documents("", ())

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        with self._lock:
            rows = self.conn.execute("SELECT chunk_id, doc_id, position, text, heading, page, token_count "
                                     "FROM chunks WHERE doc_id = ? ORDER BY position", (doc_id,)).fetchall()
        return [Chunk(*row) for row in rows]

    def get_chunks(self, ids: Sequence[int]) -> list[SearchHit]:
        """Chunks by rowid (the FAISS id), in the order asked, as hits with score 0; unknown ids skipped."""
        found = self.chunk_map(ids)
        return [found[i] for i in ids if i in found]

    def chunk_map(self, ids: Sequence[int]) -> dict[int, SearchHit]:
        """{rowid: hit with score 0} for the rowids that exist."""
        out: dict[int, SearchHit] = {}
        with self._lock:
            for batch in sqlrows.batches(list(dict.fromkeys(ids)), 500):
                marks = ",".join("?" * len(batch))
                for row in self.conn.execute(f"SELECT {sqlrows.HIT_COLUMNS} FROM chunks c JOIN documents d "
                                             f"ON d.doc_id = c.doc_id WHERE c.id IN ({marks})", batch):
                    out[row[0]] = sqlrows.hit(row)
        return out

    def rowids_for(self, chunk_ids: Sequence[str]) -> dict[str, int]:
        """Map chunk ids (stable strings) to rowids (FAISS ids); unknown ids are left out."""
        out: dict[str, int] = {}
        with self._lock:
            for batch in sqlrows.batches(list(chunk_ids), 500):
                marks = ",".join("?" * len(batch))
                out.update(self.conn.execute(f"SELECT chunk_id, id FROM chunks WHERE chunk_id IN ({marks})", batch))
        return out

    def allowed_chunk_ids(self, groups: Iterable[str] | None) -> np.ndarray | None:
        """Rowids of chunks readable by any of `groups` (None: no restriction)."""
        allowed = self.allowed_filter(groups)
        return None if allowed is None else allowed.ids

    def allowed_filter(self, groups: Iterable[str] | None) -> IdFilter | None:
        """The FAISS id filter of the chunks readable by any of `groups`, cached per generation (None: all)."""
        if groups is None:
            return None
        key = frozenset(groups)
        with self._lock:
            cache_key = (self.generation(), key)
            if cache_key not in self._acl_cache:
                marks = ",".join("?" * len(key))
                rows = self.conn.execute(
                    f"SELECT c.id FROM chunks c WHERE c.doc_id IN (SELECT doc_id FROM document_groups "
                    f"WHERE group_name IN ({marks}))", sorted(key)).fetchall() if key else []
                self._acl_cache = {k: v for k, v in self._acl_cache.items() if k[0] == cache_key[0]}
                self._acl_cache[cache_key] = IdFilter(np.fromiter((r[0] for r in rows), dtype=np.int64,
                                                                  count=len(rows)))
            return self._acl_cache[cache_key]

    def dense_search(self, vector: np.ndarray, k: int, groups: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """Nearest chunks to a query vector as (rowid, cosine), best first, among chunks `groups` may read."""
        with self._lock:
            return self._dense().search(vector, k, self.allowed_filter(groups))

    def lexical_search(self, query: str, k: int, groups: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """BM25 (FTS5) matches for free text as (rowid, score; higher is better), among chunks `groups` may read."""
        match = fts_query(query)
        if match is None or k <= 0:
            return []
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        sql = f"SELECT f.rowid, bm25(chunks_fts, {weights}) AS s FROM chunks_fts f "
        params: list[object] = [match]
        where = "WHERE chunks_fts MATCH ?"
        if groups is not None:
            group_list = sorted(set(groups))
            if not group_list:
                return []
            sql += "JOIN chunks c ON c.id = f.rowid "
            where += (f" AND c.doc_id IN (SELECT doc_id FROM document_groups WHERE group_name IN "
                      f"({','.join('?' * len(group_list))}))")
            params += group_list
        with self._lock:
            rows = self.conn.execute(f"{sql}{where} ORDER BY s, f.rowid LIMIT ?", [*params, k]).fetchall()
        return [(int(rowid), -float(score)) for rowid, score in rows]

    def ingest_log(self, limit: int = 100) -> list[dict]:
        """The most recent ingest log entries, newest first."""
        with self._lock:
            rows = self.conn.execute("SELECT at, doc_id, source, action, reason FROM ingest_log "
                                     "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("at", "doc_id", "source", "action", "reason"), row)) for row in rows]

    def stats(self) -> dict:
        """Counts and health: documents, chunks, vectors, generations, labels, groups."""
        with self._lock:
            dense = self._dense()
            one = lambda sql: self.conn.execute(sql).fetchone()[0]  # noqa: E731
            labels = dict(self.conn.execute("SELECT label, count(*) FROM documents GROUP BY label").fetchall())
            groups = dict(self.conn.execute("SELECT group_name, count(*) FROM document_groups GROUP BY 1").fetchall())
            return {"index_dir": str(self.index_dir), "documents": one("SELECT count(*) FROM documents"),
                    "chunks": one("SELECT count(*) FROM chunks"), "vectors": dense.ntotal,
                    "generation": self.generation(), "faiss_generation": dense.generation,
                    "faiss_kind": dense.kind,
                    "embedder": self.meta("embedder"), "dim": self.dim,
                    "labels": {str(Classification(k)): v for k, v in sorted(labels.items())}, "groups": groups}

    def meta(self, key: str) -> str | None:
        """A value of the meta table (None if unset)."""
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # --- for extensions keeping their own tables in the index database (the knowledge graph) -------
    def chunk_refs(self) -> list[ChunkRef]:
        """Every stored chunk's rowid, chunk id, document, source and label, in rowid order."""
        with self._lock:
            rows = self.conn.execute("SELECT c.id, c.chunk_id, c.doc_id, d.source, c.label FROM chunks c "
                                     "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.id").fetchall()
        return [ChunkRef(r[0], r[1], r[2], r[3], Classification(r[4])) for r in rows]

    def chunk_vectors(self, chunk_ids: Iterable[str]) -> dict[str, tuple[str, np.ndarray]]:
        """{chunk id: (text, stored embedding)} for the chunk ids that exist."""
        out: dict[str, tuple[str, np.ndarray]] = {}
        with self._lock:
            for batch in sqlrows.batches(sorted(set(chunk_ids)), 500):
                marks = ",".join("?" * len(batch))
                for chunk_id, text, blob in self.conn.execute(
                        f"SELECT chunk_id, text, embedding FROM chunks WHERE chunk_id IN ({marks})", batch):
                    out[chunk_id] = (text, np.frombuffer(blob, dtype=np.float32))
        return out

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One consistent read view: the store's methods called inside see the same committed state.

        Yields the connection for reading the caller's own tables in that view (never the store's tables).
        """
        with self._lock:
            if self.conn.in_transaction:  # already inside a write or another snapshot
                yield self.conn
                return
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    @contextmanager
    def extension_write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for the caller's own tables that changes no document (generation kept).

        Use `write_document`'s and `delete_document`'s hooks to write rows together with a document.

        Raises:
            StoreError: the index is locked by another writer (retryable).
        """
        with self._write() as (conn, delta):
            delta.cancelled = True
            yield conn

    # --- writing ---------------------------------------------------------------------------------
    def check_embedder(self, name: str) -> None:
        """Record the embedding model's name on first use; refuse a different model later."""
        self._check_meta("embedder", name, "embedding model")

    def write_document(self, record: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray,
                       chunk_labels: Sequence[Classification | ChunkLabel], hooks: Sequence[WriteHook] = (),
                       action: str = "added", reason: str | None = None,
                       label_stamp: str = "") -> tuple[DocumentRecord, list[str]]:
        """Insert or replace a document and all its chunks in one transaction.

        Args:
            record: The document; `version`, `ingested_at`, `label` and `chunk_count` are computed here.
            chunks: Its chunks (already chunked, in order).
            vectors: One normalised vector per chunk, shape (len(chunks), dim).
            chunk_labels: One label per chunk (stored as max(declared, label)), with its findings summary
                when it is a `ChunkLabel`.
            hooks: Called inside the transaction with (connection, removed chunk ids); an error rolls back.
            action, reason: What the ingest log records.
            label_stamp: Detector version + config the labels were made with ("" = unknown: stale).

        Returns:
            The stored record and the chunk ids that were removed (the old version's).
        """
        if len(chunks) != len(vectors) or len(chunks) != len(chunk_labels):
            raise ValueError("write_document needs one vector and one label per chunk")
        given = [label if isinstance(label, ChunkLabel) else ChunkLabel(Classification(label)) for label in chunk_labels]
        labels = [max(record.declared, label.level) for label in given]
        summaries = [json.dumps(list(label.findings)) if isinstance(raw, ChunkLabel) else None
                     for raw, label in zip(chunk_labels, given)]
        stored = replace(record, label=max([record.declared, *labels]), chunk_count=len(chunks),
                         ingested_at=sqlrows.now())
        with self._write() as (conn, delta):
            old = conn.execute("SELECT version FROM documents WHERE doc_id = ?", (record.doc_id,)).fetchone()
            removed = self._delete_chunks(conn, record.doc_id, delta)
            stored = replace(stored, version=(old[0] + 1) if old else 1)
            conn.execute("INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                         (stored.doc_id, stored.source, stored.title, stored.format, stored.content_hash,
                          stored.version, int(stored.declared), int(stored.label), stored.ingested_at))
            sqlrows.set_groups(conn, stored.doc_id, stored.groups)
            for chunk, vector, label, summary in zip(chunks, np.asarray(vectors, dtype=np.float32), labels, summaries):
                stamp = label_stamp if summary is not None else ""
                rowid = conn.execute("INSERT INTO chunks (chunk_id, doc_id, position, text, heading, page, "
                                     "token_count, label, embedding, findings, label_stamp) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                                     (chunk.chunk_id, chunk.doc_id, chunk.position, chunk.text, chunk.heading,
                                      chunk.page, chunk.token_count, int(label), vector.tobytes(), summary,
                                      stamp)).lastrowid
                conn.execute("INSERT INTO chunks_fts (rowid, text, heading, title) VALUES (?,?,?,?)",
                             (rowid, chunk.text, chunk.heading or "", stored.title))
                delta.added.append((rowid, vector))
            for hook in hooks:
                hook(conn, removed)
            sqlrows.log(conn, stored.doc_id, stored.source, action, reason)
        return stored, removed

    # --- labels ----------------------------------------------------------------------------------
    def stale_label_count(self, label_stamp: str) -> int:
        """Chunks whose stored label was not made with `label_stamp` (other detector or config)."""
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM chunks WHERE label_stamp != ?",
                                         (label_stamp,)).fetchone()[0])

    def stale_passages(self, label_stamp: str, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (rowid, passage text) of chunks with a stale label, oldest rowid first."""
        with self._lock:
            rows = self.conn.execute("SELECT c.id, d.title, c.text FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                                     "WHERE c.label_stamp != ? ORDER BY c.id LIMIT ?", (label_stamp, limit)).fetchall()
        return [(r[0], passage_text(r[1], r[2])) for r in rows]

    def relabel(self, labels: Mapping[int, ChunkLabel], label_stamp: str) -> int:
        """Store new labels (max with the document's declared level) and findings for chunks by rowid, in one
        transaction, and refresh their documents' labels. Retrieval is unchanged (no generation bump).

        Returns:
            How many chunks were updated (chunks deleted meanwhile are skipped).
        """
        updated = 0
        with self._write() as (conn, delta):
            delta.cancelled = True  # labels only: the FAISS index and BM25 stay valid
            docs: set[str] = set()
            for rowid, label in labels.items():
                row = conn.execute("SELECT c.doc_id, d.declared FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                                   "WHERE c.id = ?", (rowid,)).fetchone()
                if row is None:
                    continue
                conn.execute("UPDATE chunks SET label = ?, findings = ?, label_stamp = ? WHERE id = ?",
                             (max(int(row[1]), int(label.level)), json.dumps(list(label.findings)), label_stamp, rowid))
                docs.add(row[0])
                updated += 1
            for doc_id in docs:
                conn.execute("UPDATE documents SET label = max(declared, coalesce((SELECT max(label) FROM chunks "
                             "WHERE doc_id = ?), 0)) WHERE doc_id = ?", (doc_id, doc_id))
        return updated

    def update_access(self, doc_id: str, groups: Sequence[str], declared: Classification,
                      reason: str | None = None) -> DocumentRecord | None:
        """Change a document's groups and declared classification (content unchanged); bumps its version."""
        with self._write() as (conn, _delta):
            row = conn.execute("SELECT source FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE chunks SET label = max(label, ?) WHERE doc_id = ?", (int(declared), doc_id))
            conn.execute("UPDATE documents SET declared = ?, version = version + 1, ingested_at = ?, label = "
                         "max(?, coalesce((SELECT max(label) FROM chunks WHERE doc_id = ?), 0)) WHERE doc_id = ?",
                         (int(declared), sqlrows.now(), int(declared), doc_id, doc_id))
            sqlrows.set_groups(conn, doc_id, groups)
            sqlrows.log(conn, doc_id, row[0], "updated", reason or "groups or classification changed")
        return self.get_document(doc_id)

    def delete_document(self, doc_id: str, hooks: Sequence[WriteHook] = ()) -> list[str] | None:
        """Remove a document from SQLite, FTS5 and FAISS together; returns its chunk ids, None if unknown."""
        with self._write() as (conn, delta):
            row = conn.execute("SELECT source FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
            if row is None:
                delta.cancelled = True
                return None
            removed = self._delete_chunks(conn, doc_id, delta)
            conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            for hook in hooks:
                hook(conn, removed)
            sqlrows.log(conn, doc_id, row[0], "deleted", None)
        return removed

    def log(self, source: str, action: str, reason: str | None = None, doc_id: str | None = None) -> None:
        """Record an ingest event that changed nothing (unchanged, refused)."""
        with self._lock:
            sqlrows.log(self.conn, doc_id, source, action, reason)

    def persist(self) -> None:
        """Write the FAISS index to disk if it is current (once per ingest batch); an exact index that grew
        past `approx_threshold` is rebuilt as IVF first."""
        with self._lock:
            dense = self._dense()
            if dense.kind == FLAT and dense.ntotal >= self.approx_threshold:
                self._faiss = dense = self._rebuild()
            dense.save(self.index_dir)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self.conn.close()

    # --- internals -------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, "_Delta"]]:
        delta = _Delta()
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"the index at {self.index_dir} is locked by another writer ({exc}); "
                                 "retry when the other ingest has finished", retryable=True) from exc
            try:
                before = self.generation()
                yield self.conn, delta
                if not delta.cancelled:
                    self.conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(before + 1),))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            if not delta.cancelled:
                self._apply(delta, before, before + 1)

    def _apply(self, delta: "_Delta", before: int, after: int) -> None:
        dense = self._faiss
        if dense is None or dense.generation != before:
            self._faiss = None  # another process wrote meanwhile: rebuild on next use
            return
        dense.remove(delta.removed)
        if delta.added:
            dense.add([r for r, _ in delta.added], np.stack([v for _, v in delta.added]))
        dense.generation = after

    def _dense(self) -> FaissIndex:
        generation = self.generation()
        if self._faiss is not None and self._faiss.generation == generation:
            return self._faiss
        loaded = FaissIndex.load(self.index_dir, self.dim, nprobe=self.nprobe)
        if loaded is not None and loaded.generation == generation and loaded.ntotal == self._chunk_count():
            self._faiss = loaded
            return loaded
        self._faiss = self._rebuild()
        try:
            self._faiss.save(self.index_dir)
        except OSError:  # read-only index folder: serve from memory
            pass
        return self._faiss

    def _rebuild(self) -> FaissIndex:
        self.conn.execute("BEGIN")  # one snapshot: generation and embeddings agree
        try:
            generation = int(self.conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            rows = self.conn.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall()
        finally:
            self.conn.execute("COMMIT")
        vectors = (np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]) if rows
                   else np.zeros((0, self.dim), dtype=np.float32))
        return FaissIndex.build(self.dim, [r[0] for r in rows], vectors, generation=generation,
                                approx_threshold=self.approx_threshold, nprobe=self.nprobe)

    @staticmethod
    def _delete_chunks(conn: sqlite3.Connection, doc_id: str, delta: "_Delta") -> list[str]:
        rowids, chunk_ids = sqlrows.delete_chunks(conn, doc_id)
        delta.removed.extend(rowids)
        return chunk_ids

    def _chunk_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def _documents(self, where: str, params: tuple) -> list[DocumentRecord]:
        with self._lock:
            return sqlrows.read_documents(self.conn, where, params)

    def _check_meta(self, key: str, value: str, what: str) -> None:
        with self._lock:
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            stored = self.meta(key)
        if stored != value:
            raise StoreError(f"the index at {self.index_dir} was built with {what} {stored}, not {value}; "
                             "use the same model or ingest into a new index folder (RAG_HOME)")


class _Delta:
    """What a committed transaction changed, to mirror in the in-memory FAISS index."""

    def __init__(self) -> None:
        self.removed: list[int] = []
        self.added: list[tuple[int, np.ndarray]] = []
        self.cancelled = False

"""Ingestion: files -> documents -> chunks -> labels + vectors -> one store transaction per document.

Per document: read the bytes and hash them; an unchanged document (same content hash, groups and
classification) writes nothing; otherwise load, chunk, label, embed and let listeners prepare, all outside
the transaction; then replace the document's rows (SQLite, FTS5, listeners' tables) in one transaction and
mirror the change in the in-memory FAISS index. Labelling and embedding run over the chunks of several
staged documents at once (`embed_batch_chunks`): one model call sorts all texts by length and fills its
batches, which per-document calls cannot (measured with `rag bench ingest`). After the batch the FAISS
file is persisted once and each listener's `commit()` runs once. A crash at any point leaves every document either in its old or in its new
state: the FAISS file is re-derived from SQLite when its generation is behind (see `store.py`).

Document id = sha256(source)[:16], where source is the path relative to the folder argument, or for a file
argument its path relative to the working directory (absolute when outside it): two different files of
the same name never share an id. (Before, a file argument's source was its base name; documents stored
that way keep their ids.) Uploads through the API get ``uploads/<groups>/<name>`` (see the API).
"""
from __future__ import annotations

import hashlib
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence

from indexing.chunking import chunk_document, embedding_text
from indexing.embedder import Embedder
from indexing.errors import FileTooLarge, LoaderError
from indexing.loaders import load_bytes, read_file
from indexing.manifest import MANIFEST_NAMES, Access, Manifest
from indexing.store import IndexStore
from indexing.types import Chunk, ChunkLabel, Classification, DocumentRecord, LoadedDocument, passage_text

# Labels passages ("title: text", exactly as a prompt shows them): a level, or a level with its findings summary.
Labeler = Callable[[list[str]], "list[Classification] | list[ChunkLabel]"]
Progress = Callable[["IngestProgress"], None]


class ParsingLabeler(Protocol):
    """A `Labeler` that can also hand on its parse of each passage (one opaque object per passage, e.g. a
    spaCy Doc), so a listener with `prepare_parsed` does not parse the same text again."""

    def __call__(self, passages: list[str]) -> "list[Classification] | list[ChunkLabel]": ...

    def label_parsed(self, passages: list[str]) -> "tuple[list[Classification] | list[ChunkLabel], list[object]]":
        """The labels (as `__call__` returns them) and one parse per passage."""


class IngestListener(Protocol):
    """Something that derives state from chunks (the knowledge graph) and must follow every change."""

    def prepare(self, chunks: Sequence[Chunk]) -> object:
        """Heavy work on a document's new chunks, outside the transaction; the result goes to `write`.

        A listener may also define `prepare_parsed(chunks, parses)`: the same, given the labeller's parse of
        each chunk's passage ("title: text"); the ingestor calls it when the labeller is a `ParsingLabeler`.
        """

    def write(self, conn: sqlite3.Connection, prepared: object, removed_chunk_ids: Sequence[str]) -> None:
        """Inside the document's transaction (do not commit): drop `removed_chunk_ids`, store `prepared`.

        Called with prepared=None when the document is deleted.
        """

    def commit(self) -> None:
        """Once after a batch that changed something: refresh derived state (e.g. reload the graph)."""


@dataclass
class FileResult:
    """What happened to one file: action is added, updated, unchanged, deleted or refused."""

    source: str
    action: str
    doc_id: str | None = None
    reason: str | None = None
    chunks: int = 0
    version: int | None = None
    path: str | None = None
    error: LoaderError | None = None  # why a refused file was refused (its type says what kind of refusal)

    def to_dict(self) -> dict:
        """The plain fields (the error is already in `reason`)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "error"}


@dataclass
class IngestReport:
    """Per-file results of a batch, with time spent per stage (seconds)."""

    results: list[FileResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    tracker: "_Tracker | None" = field(default=None, repr=False, compare=False)

    def by_action(self, action: str) -> list[FileResult]:
        """Results with the given action."""
        return [r for r in self.results if r.action == action]

    @property
    def refused(self) -> list[FileResult]:
        return self.by_action("refused")

    @property
    def ok(self) -> bool:
        """True when no file was refused."""
        return not self.refused

    @property
    def chunks_written(self) -> int:
        return sum(r.chunks for r in self.results if r.action in ("added", "updated"))

    def counts(self) -> dict[str, int]:
        """{action: number of files}."""
        return {a: len(self.by_action(a)) for a in ("added", "updated", "unchanged", "refused")}

    def to_dict(self) -> dict:
        return {"counts": self.counts(), "chunks_written": self.chunks_written, "ok": self.ok,
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "results": [r.to_dict() for r in self.results]}


@dataclass
class IngestProgress:
    """Where a running ingest is: sent to the `progress` callback after each file is settled."""

    files_done: int
    files_total: int
    chunks_done: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float
    source: str = ""
    action: str = ""

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left, extrapolated from the bytes done so far (None before the first bytes)."""
        if self.bytes_done <= 0 or self.elapsed_s <= 0:
            return None
        return max(0.0, self.elapsed_s * (self.bytes_total - self.bytes_done) / self.bytes_done)

    def to_dict(self) -> dict:
        eta = self.eta_s
        return {"event": "progress", **asdict(self), "elapsed_s": round(self.elapsed_s, 2),
                "chunks_per_s": round(self.chunks_per_s, 2), "eta_s": None if eta is None else round(eta, 1)}


def doc_id_for(source: str) -> str:
    """Stable document id: 16 hex chars of sha256 over the source path."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


class Ingestor:
    """Adds, updates and deletes documents in an `IndexStore`.

    Args:
        store: Where documents go.
        embedder: Embeds chunks; its tokenizer sizes them.
        labeler: Labels chunk passages ("title: text", as the prompt shows them, so titles are covered) with a
            sensitivity level and findings summary (None: chunks get the declared level).
        label_stamp: Detector version + config of `labeler`, stored with each label (stale when it changes).
        listeners: Derived stores kept in step (see `IngestListener`).
        max_file_bytes: Larger files are refused.
        chunk_max_tokens, chunk_overlap_tokens: Chunk size and overlap in embedder tokens.
        default_groups, default_classification: Used when neither arguments nor a manifest say.
        embed_batch_chunks: Chunks of several documents are labelled and embedded together, up to about
            this many at a time (one model call lets it sort by length and fill batches), before each
            document is written in its own transaction.
        overlap: Embed on a second thread while this one labels and prepares (torch releases the GIL, spaCy
            and Presidio mostly hold it; measured with `rag bench ingest`).
        progress: Called after each file is settled (written, unchanged or refused) with an `IngestProgress`.
    """

    def __init__(self, store: IndexStore, embedder: Embedder, labeler: Labeler | None = None,
                 listeners: Sequence[IngestListener] = (), max_file_bytes: int = 20 * 1024 * 1024,
                 chunk_max_tokens: int = 200, chunk_overlap_tokens: int = 40,
                 default_groups: Sequence[str] = ("all",),
                 default_classification: Classification = Classification.INTERNAL,
                 embed_batch_chunks: int = 256, label_stamp: str = "", overlap: bool = True,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.label_stamp = label_stamp
        self.embedder = embedder
        self.labeler = labeler
        self.listeners = list(listeners)
        self.max_file_bytes = max_file_bytes
        self.chunk_max_tokens = chunk_max_tokens
        self.chunk_overlap_tokens = chunk_overlap_tokens
        self.embed_batch_chunks = embed_batch_chunks
        self.overlap = overlap
        self.progress = progress
        self.defaults = Access(tuple(default_groups), Classification.parse(default_classification))

    def ingest_paths(self, paths: Iterable[Path | str], groups: Sequence[str] | None = None,
                     classification: Classification | str | None = None,
                     manifest: Manifest | None = None, collection: str | None = None,
                     progress: Progress | None = None) -> IngestReport:
        """Ingest files and folders (recursively); a refused file never stops the others.

        Args:
            paths: Files or folders. A folder's files get sources relative to it; a file its path.
            groups: Readers of every document (overrides the manifest).
            classification: Declared level of every document (overrides the manifest).
            manifest: Access rules; default: `manifest.yaml` at the root of each folder argument.
            collection: Prefix of every source (``collection/source``), so two folders with the same
                relative paths keep separate documents (manifests still match the unprefixed path).
            progress: Called after each file is settled (default: the constructor's `progress`).
        """
        explicit = Access(tuple(groups) if groups is not None else None,
                          None if classification is None else Classification.parse(classification))
        report = IngestReport()
        self.store.check_embedder(self.embedder.name)
        files = list(expand_paths(paths, manifest))
        with self._batch(report, len(files), sum(_size(f[0]) for f in files), progress or self.progress):
            pending: list[_Pending] = []
            for path, source, folder_manifest in files:
                access = explicit.over(folder_manifest.resolve(source) if folder_manifest else Access())
                stored_as = f"{collection.strip('/')}/{source}" if collection else source
                self._stage(self._stage_file(path, stored_as, access.over(self.defaults), report), report, pending,
                            _size(path))
                if sum(len(p.chunks) for p in pending) >= self.embed_batch_chunks:
                    self._write_pending(pending, report)
            self._write_pending(pending, report)
        return report

    def ingest_bytes(self, name: str, data: bytes, groups: Sequence[str] | None = None,
                     classification: Classification | str | None = None,
                     progress: Progress | None = None) -> FileResult:
        """Ingest an uploaded file (its extension picks the loader); refusals come back as action "refused"."""
        access = Access(tuple(groups) if groups is not None else None,
                        None if classification is None else Classification.parse(classification)).over(self.defaults)
        report = IngestReport()
        self.store.check_embedder(self.embedder.name)
        with self._batch(report, 1, len(data), progress or self.progress):
            if len(data) > self.max_file_bytes:
                staged = self._refuse(name, FileTooLarge(name, f"the upload is {len(data):,} bytes, "
                                      f"over the {self.max_file_bytes:,}-byte limit", "split it into smaller files"))
            else:
                staged = self._stage_data(name, data, name, access, report)
            pending: list[_Pending] = []
            self._stage(staged, report, pending, len(data))
            self._write_pending(pending, report)
        return report.results[0]

    def delete(self, doc_id_or_source: str) -> bool:
        """Remove a document from SQLite, FTS5, FAISS and the listeners; False if it is unknown."""
        return bool(self.delete_many([doc_id_or_source]))

    def delete_many(self, doc_ids_or_sources: Iterable[str]) -> list[str]:
        """Remove several documents, refreshing listeners once; returns the doc ids removed."""
        deleted = []
        report = IngestReport()
        with self._batch(report):
            for key in doc_ids_or_sources:
                record = self.store.get_document(key)
                hooks = [_hook(listener, None) for listener in self.listeners]
                if record is not None and self.store.delete_document(record.doc_id, hooks) is not None:
                    deleted.append(record.doc_id)
                    report.results.append(FileResult(record.source, "deleted", record.doc_id))
        return deleted

    # --- staging (load, chunk) and writing (label, embed, prepare, one transaction each) ---------
    def _stage_file(self, path: Path, source: str, access: Access, report: IngestReport) -> "FileResult | _Pending":
        try:
            with _timed(report, "read"):
                data = read_file(path, self.max_file_bytes)
        except LoaderError as exc:
            return self._refuse(source, exc, path)
        return self._stage_data(source, data, str(path), access, report)

    def _stage_data(self, source: str, data: bytes, label: str, access: Access,
                    report: IngestReport) -> "FileResult | _Pending":
        doc_id = doc_id_for(source)
        content_hash = hashlib.sha256(data).hexdigest()
        existing = self.store.get_document(doc_id)
        if existing is not None and existing.content_hash == content_hash:
            return self._same_content(existing, access)
        try:
            with _timed(report, "load"):
                document = load_bytes(source, data, label=label)
        except LoaderError as exc:
            return self._refuse(source, exc, label)
        with _timed(report, "chunk"):
            chunks = chunk_document(doc_id, document, self.embedder.count_tokens,
                                    self.chunk_max_tokens, self.chunk_overlap_tokens)
        return _Pending(document, chunks, content_hash, access, existing, label)

    def _stage(self, staged: "FileResult | _Pending", report: IngestReport, pending: list["_Pending"],
               size: int = 0) -> None:
        report.results.append(staged if isinstance(staged, FileResult) else None)  # type: ignore[arg-type]
        if isinstance(staged, _Pending):
            staged.slot, staged.size = len(report.results) - 1, size
            pending.append(staged)
        else:
            self._settled(report, staged, size)

    def _write_pending(self, pending: list["_Pending"], report: IngestReport) -> None:
        """Label and embed the staged documents' chunks in one call each (the model batches across
        documents; embedding runs on a second thread meanwhile), let the listeners prepare, then write each
        document in its own transaction."""
        chunks = [c for p in pending for c in p.chunks]
        if not chunks:
            pending.clear()
            return
        passages = [passage_text(p.document.title, c.text) for p in pending for c in p.chunks]
        texts = [embedding_text(c, p.document.title) for p in pending for c in p.chunks]
        with ThreadPoolExecutor(1, thread_name_prefix="embed") if self.overlap else _inline() as pool:
            vectors_future = pool.submit(self._embed, texts, report)
            labels, parses = self._label(passages, report)
            prepared = self._prepare_all(pending, report, parses)
            with _timed(report, "embed_wait"):
                vectors = vectors_future.result()
        offset = 0
        for p, hooks in zip(pending, prepared):
            n = len(p.chunks)
            doc_labels = labels[offset:offset + n] if labels is not None else [p.access.classification] * n
            report.results[p.slot] = self._write(p, vectors[offset:offset + n], doc_labels, hooks, report)
            self._settled(report, report.results[p.slot], p.size)
            offset += n
        pending.clear()

    def _embed(self, texts: list[str], report: IngestReport):
        with _timed(report, "embed"):
            return self.embedder.embed(texts)

    def _label(self, passages: list[str], report: IngestReport) -> tuple[list | None, list | None]:
        """Labels of the chunks' passages ("title: text"), so a sensitive title is covered too, and the
        labeller's parse of each passage when a listener can use it (else None)."""
        if self.labeler is None:
            return None, None
        with _timed(report, "label"):
            label_parsed = getattr(self.labeler, "label_parsed", None)
            if label_parsed is not None and any(hasattr(x, "prepare_parsed") for x in self.listeners):
                labels, parses = label_parsed(passages)
                if len(parses) != len(passages):
                    raise ValueError(f"the labeller returned {len(parses)} parses for {len(passages)} passages")
                return list(labels), list(parses)
            return list(self.labeler(passages)), None

    def _prepare_all(self, pending: list["_Pending"], report: IngestReport, parses: list | None = None) -> list[list]:
        """Each listener's `prepare` of each document (`prepare_parsed` with the passages' parses when given)."""
        out, offset = [], 0
        with _timed(report, "prepare"):
            for p in pending:
                mine = parses[offset:offset + len(p.chunks)] if parses is not None else None
                offset += len(p.chunks)
                out.append([_hook(listener, _prepare(listener, p.chunks, mine)) for listener in self.listeners])
        return out

    @staticmethod
    def _settled(report: IngestReport, result: FileResult | None, size: int) -> None:
        tracker = report.tracker
        if tracker is None or result is None:
            return
        tracker.files_done += 1
        tracker.bytes_done += size
        tracker.chunks_done += result.chunks if result.action in ("added", "updated") else 0
        if tracker.progress is not None:
            tracker.progress(IngestProgress(tracker.files_done, tracker.files_total, tracker.chunks_done,
                                         tracker.bytes_done, tracker.bytes_total,
                                         time.perf_counter() - tracker.started, result.source, result.action))

    def _write(self, p: "_Pending", vectors, labels: "Sequence[Classification | ChunkLabel]", hooks: list,
               report: IngestReport) -> FileResult:
        doc = p.document
        record = DocumentRecord(doc_id_for(doc.source), doc.source, doc.title, doc.format, p.content_hash, 0,
                                p.access.groups, p.access.classification, p.access.classification, 0, "")
        action, reason = ("updated", "content changed") if p.existing is not None else ("added", None)
        with _timed(report, "write"):
            stored, _removed = self.store.write_document(record, p.chunks, vectors, labels, hooks, action, reason,
                                                         label_stamp=self.label_stamp if self.labeler else "")
        return FileResult(doc.source, action, record.doc_id, reason, len(p.chunks), stored.version, p.label)

    def _same_content(self, existing: DocumentRecord, access: Access) -> FileResult:
        if set(existing.groups) == set(access.groups) and existing.declared == access.classification:
            self.store.log(existing.source, "unchanged", doc_id=existing.doc_id)
            return FileResult(existing.source, "unchanged", existing.doc_id, None, 0, existing.version)
        stored = self.store.update_access(existing.doc_id, access.groups, access.classification)
        return FileResult(existing.source, "updated", existing.doc_id, "groups or classification changed", 0,
                          stored.version if stored else None)

    def _refuse(self, source: str, error: LoaderError, path: object = None) -> FileResult:
        self.store.log(source, "refused", str(error), doc_id=doc_id_for(source))
        return FileResult(source, "refused", None, str(error), path=str(path) if path is not None else None,
                          error=error)

    @contextmanager
    def _batch(self, report: IngestReport, files_total: int = 0, bytes_total: int = 0,
               progress: Progress | None = None) -> Iterator[None]:
        started = time.perf_counter()
        report.tracker = _Tracker(files_total, bytes_total, started, progress)
        try:
            yield
        finally:
            report.tracker = None
            report.results = [r for r in report.results if r is not None]  # staged but never written
            changed = any(r.action in ("added", "updated", "deleted") for r in report.results)
            with _timed(report, "persist"):
                if changed:
                    self.store.persist()
                    for listener in self.listeners:
                        listener.commit()
            report.timings["total"] = time.perf_counter() - started


@dataclass
class _Pending:
    """A loaded and chunked document waiting to be labelled, embedded and written."""

    document: LoadedDocument
    chunks: list[Chunk]
    content_hash: str
    access: Access
    existing: DocumentRecord | None
    label: str
    slot: int = -1
    size: int = 0


@dataclass
class _Tracker:
    files_total: int
    bytes_total: int
    started: float
    progress: Progress | None = None
    files_done: int = 0
    bytes_done: int = 0
    chunks_done: int = 0


class _inline:
    """A stand-in for a one-thread pool that runs the call at once (overlap off)."""

    def __enter__(self) -> "_inline":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def submit(fn: Callable, *args: object):
        from concurrent.futures import Future

        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            future.set_exception(exc)
        return future


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _prepare(listener: IngestListener, chunks: Sequence[Chunk], parses: list | None) -> object:
    prepare_parsed = getattr(listener, "prepare_parsed", None) if parses is not None else None
    return prepare_parsed(chunks, parses) if prepare_parsed is not None else listener.prepare(chunks)


def _hook(listener: IngestListener, prepared: object) -> Callable[[sqlite3.Connection, Sequence[str]], None]:
    return lambda conn, removed: listener.write(conn, prepared, removed)


def expand_paths(paths: Iterable[Path | str],
                 manifest: Manifest | None = None) -> Iterator[tuple[Path, str, Manifest | None]]:
    """(file, source, manifest) for every file to ingest: folders recursively (hidden files and the root
    manifest skipped), sources relative to the folder argument; a file argument is its path (`file_source`)."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path, file_source(path), manifest
            continue
        folder_manifest = manifest if manifest is not None else Manifest.find(path)
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path)
            if any(part.startswith(".") for part in relative.parts) or str(relative) in MANIFEST_NAMES:
                continue
            yield file, relative.as_posix(), folder_manifest


def file_source(path: Path) -> str:
    """The source of a file argument: its path relative to the working directory, or absolute outside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


@contextmanager
def _timed(report: IngestReport, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.timings[stage] = report.timings.get(stage, 0.0) + time.perf_counter() - started


__all__ = ["Ingestor", "IngestListener", "ParsingLabeler", "IngestProgress", "IngestReport", "FileResult", "Labeler", "doc_id_for",
           "expand_paths", "file_source"]

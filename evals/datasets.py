"""Dataset loaders: the project's sets in data/, SQuAD 2.0 JSON files and BEIR folders.

Every retrieval set becomes a `RetrievalDataset`: queries with relevance `Target`s, plus what to
ingest (a corpus folder, or in-memory `Document`s written for the evaluation's own index).

* native (``data/evals/*.jsonl``): one JSON object a line, ``{id, question, answer, relevant:
  [{doc, evidence}], groups, bridge?}``; `doc` is relative to the corpus folder and `evidence` a
  passage of it (see `evals.relevance` for how a chunk is judged to hold it).
* SQuAD 2.0: each paragraph is a document (``squad/<article>/p<NNN>.txt``); an answerable question
  has its paragraph as the one relevant document and its gold answers; an unanswerable one has no
  target and tests abstention.
* BEIR: ``corpus.jsonl`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``) and
  ``qrels/<split>.tsv`` (``query-id, corpus-id, score``, header line); graded gains kept, scores
  <= 0 dropped, queries without a judged document dropped.
"""
from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.relevance import Target, normalize_text

FORMATS = ("native", "squad", "beir")


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file (and line) to fix."""


@dataclass(frozen=True)
class EvalQuery:
    """One evaluation question with what a good system retrieves and answers."""

    id: str
    question: str
    targets: tuple[Target, ...]
    answers: tuple[str, ...] = ()
    groups: tuple[str, ...] = ("all",)
    answerable: bool = True
    bridge: str | None = None


@dataclass(frozen=True)
class Document:
    """A document the evaluation writes into its own index (SQuAD paragraph, BEIR document)."""

    source: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class RetrievalDataset:
    """Queries plus the corpus they are asked over: a folder to ingest, or documents to write."""

    name: str
    queries: tuple[EvalQuery, ...]
    corpus_dir: Path | None = None
    documents: tuple[Document, ...] = ()

    def with_queries(self, queries: Sequence[EvalQuery]) -> "RetrievalDataset":
        """A copy holding only `queries` (same corpus)."""
        return RetrievalDataset(self.name, tuple(queries), self.corpus_dir, self.documents)


@dataclass(frozen=True)
class RoutingPrompt:
    """A labelled prompt for the routing-safety evaluation."""

    id: str
    text: str
    sensitive: bool
    expected_route: str | None = None
    category: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


# --- helpers -----------------------------------------------------------------------------------
def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{what} not found: {path} (check the path, or create it)")
    return path


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _require_file(path, "dataset file").open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object per line")
            yield lineno, row


def _field(row: dict[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise DatasetError(f"{where}: missing field {name!r}")
    return row[name]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "doc"


# --- native ------------------------------------------------------------------------------------
def _native_query(row: dict[str, Any], where: str) -> EvalQuery:
    qid = str(_field(row, "id", where))
    relevant = row.get("relevant") or []
    targets = []
    for i, rel in enumerate(relevant):
        if not isinstance(rel, dict) or "doc" not in rel:
            raise DatasetError(f"{where}: relevant[{i}] must be an object with 'doc' (and 'evidence')")
        targets.append(Target(key=f"{qid}#{i}", doc=str(rel["doc"]), evidence=rel.get("evidence") or None,
                              gain=int(rel.get("gain", 1))))
    answers = row.get("answers") or ([row["answer"]] if row.get("answer") else [])
    return EvalQuery(
        id=qid,
        question=str(_field(row, "question", where)),
        targets=tuple(targets),
        answers=tuple(str(a) for a in answers),
        groups=tuple(row.get("groups") or ("all",)),
        answerable=bool(row.get("answerable", bool(targets))),
        bridge=row.get("bridge"),
    )


def load_native(path: Path, corpus_dir: Path, name: str | None = None) -> RetrievalDataset:
    """Load one of the project's JSONL sets (data/evals/retrieval.jsonl, multihop.jsonl).

    Args:
        path: the JSONL file.
        corpus_dir: the folder its `doc` paths are relative to (ingested for the evaluation).
        name: suite name; default the file's stem.

    Raises:
        DatasetError: the file or the corpus folder is missing, or a line is malformed.
    """
    path = Path(path)
    if not Path(corpus_dir).is_dir():
        raise DatasetError(f"corpus folder not found: {corpus_dir} (set --corpus or RAG_CORPUS_DIR)")
    queries = [_native_query(row, f"{path}:{lineno}") for lineno, row in _jsonl(path)]
    if not queries:
        raise DatasetError(f"{path}: no queries")
    return RetrievalDataset(name or path.stem, tuple(queries), corpus_dir=Path(corpus_dir))


def _visible_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in {".html", ".htm"}:
        from bs4 import BeautifulSoup

        text = BeautifulSoup(text, "html.parser").get_text(" ")
    return text


def check_native(dataset: RetrievalDataset) -> list[str]:
    """Problems with a native set's targets: a missing document, or evidence not found in its text.

    Only text formats (md, txt, html) are checked for evidence; others just for existence.
    """
    problems: list[str] = []
    cache: dict[str, str | None] = {}
    for query in dataset.queries:
        for target in query.targets:
            doc_path = Path(dataset.corpus_dir or ".") / target.doc
            if not doc_path.is_file():
                problems.append(f"{query.id}: document {target.doc} not found under {dataset.corpus_dir}")
                continue
            if target.doc not in cache:
                readable = doc_path.suffix.lower() in {".md", ".txt", ".html", ".htm"}
                cache[target.doc] = normalize_text(_visible_text(doc_path)) if readable else None
            text = cache[target.doc]
            if target.evidence and text is not None and normalize_text(target.evidence) not in text:
                problems.append(f"{query.id}: evidence not found in {target.doc}: {target.evidence[:60]!r}")
    return problems


# --- routing -----------------------------------------------------------------------------------
def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", "1", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise DatasetError(f"{where}: 'sensitive' must be true or false, got {value!r}")


def load_routing(paths: Sequence[Path]) -> list[RoutingPrompt]:
    """Load labelled prompts (data/routing/prompts.jsonl, generated.jsonl), in file order.

    Each line: ``{id, text, sensitive, expected_route, category}``; ids must be unique across files.

    Raises:
        DatasetError: a file is missing, a line is malformed, or an id repeats.
    """
    prompts: list[RoutingPrompt] = []
    seen: set[str] = set()
    for path in paths:
        for lineno, row in _jsonl(Path(path)):
            where = f"{path}:{lineno}"
            pid = str(_field(row, "id", where))
            if pid in seen:
                raise DatasetError(f"{where}: duplicate prompt id {pid!r}")
            seen.add(pid)
            known = {"id", "text", "sensitive", "expected_route", "category"}
            prompts.append(RoutingPrompt(
                id=pid,
                text=str(_field(row, "text", where)),
                sensitive=_as_bool(_field(row, "sensitive", where), where),
                expected_route=row.get("expected_route"),
                category=str(row.get("category") or ""),
                extra={k: v for k, v in row.items() if k not in known},
            ))
    return prompts


# --- SQuAD 2.0 ---------------------------------------------------------------------------------
def load_squad(path: Path) -> RetrievalDataset:
    """Load a SQuAD 2.0 JSON file: paragraphs become documents, questions become queries.

    Raises:
        DatasetError: the file is missing or not SQuAD-shaped (``{"data": [{"title", "paragraphs":
            [{"context", "qas": [...]}]}]}``).
    """
    path = Path(path)
    try:
        articles = json.loads(_require_file(path, "SQuAD file").read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a SQuAD 2.0 JSON file ({exc})") from None
    documents: list[Document] = []
    queries: list[EvalQuery] = []
    for article in articles:
        title = str(article.get("title", "article"))
        for p_index, paragraph in enumerate(article.get("paragraphs", [])):
            source = f"squad/{_slug(title)}/p{p_index:03d}.txt"
            documents.append(Document(source=source, text=paragraph["context"], title=f"{title} {p_index}"))
            for qa in paragraph.get("qas", []):
                answerable = not qa.get("is_impossible", False) and bool(qa.get("answers"))
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                targets = (Target(key=f"doc:{source}", doc=source),) if answerable else ()
                queries.append(EvalQuery(id=str(qa["id"]), question=qa["question"], targets=targets,
                                         answers=answers, answerable=answerable))
    if not queries:
        raise DatasetError(f"{path}: no questions found")
    return RetrievalDataset("squad", tuple(queries), documents=tuple(documents))


# --- BEIR --------------------------------------------------------------------------------------
def _beir_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with _require_file(path, "BEIR qrels file").open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or (lineno == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or header
            if len(row) < 3:
                raise DatasetError(f"{path}:{lineno}: expected query-id, corpus-id, score")
            try:
                score = int(row[-1])
            except ValueError:
                raise DatasetError(f"{path}:{lineno}: score {row[-1]!r} is not an integer") from None
            if score > 0:
                qrels.setdefault(row[0], {})[row[-2]] = score
    return qrels


def load_beir(folder: Path, split: str = "test") -> RetrievalDataset:
    """Load a BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).

    Raises:
        DatasetError: a file is missing or malformed, or a judged document is not in the corpus.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"BEIR folder not found: {folder}")
    sources: dict[str, str] = {}
    documents: list[Document] = []
    for lineno, row in _jsonl(folder / "corpus.jsonl"):
        doc_id = str(_field(row, "_id", f"corpus.jsonl:{lineno}"))
        sources[doc_id] = f"beir/{_slug(doc_id)}.txt"
        title = str(row.get("title") or "")
        text = f"{title}\n\n{row.get('text', '')}" if title else str(row.get("text", ""))
        documents.append(Document(source=sources[doc_id], text=text, title=title or doc_id))
    questions = {str(_field(r, "_id", f"queries.jsonl:{n}")): str(_field(r, "text", f"queries.jsonl:{n}"))
                 for n, r in _jsonl(folder / "queries.jsonl")}
    queries: list[EvalQuery] = []
    for qid, judged in _beir_qrels(folder / "qrels" / f"{split}.tsv").items():
        if qid not in questions:
            raise DatasetError(f"{folder}: qrels name query {qid!r} missing from queries.jsonl")
        missing = [d for d in judged if d not in sources]
        if missing:
            raise DatasetError(f"{folder}: qrels name documents missing from corpus.jsonl: {missing[:5]}")
        targets = tuple(Target(key=f"doc:{sources[d]}", doc=sources[d], gain=g) for d, g in judged.items())
        queries.append(EvalQuery(id=qid, question=questions[qid], targets=targets))
    if not queries:
        raise DatasetError(f"{folder}: no judged queries in qrels/{split}.tsv")
    return RetrievalDataset(f"beir-{folder.name}", tuple(queries), documents=tuple(documents))


# --- dispatch and sampling ---------------------------------------------------------------------
def load_dataset(path: Path, fmt: str, *, corpus_dir: Path | None = None, split: str = "test") -> RetrievalDataset:
    """Load `path` in format `fmt` (one of `FORMATS`).

    Raises:
        DatasetError: unknown format, missing path, or malformed content.
    """
    if fmt not in FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if not Path(path).exists():
        raise DatasetError(f"dataset not found: {path}")
    if fmt == "squad":
        return load_squad(path)
    if fmt == "beir":
        return load_beir(path, split)
    if corpus_dir is None:
        raise DatasetError("a native dataset needs the corpus folder its 'doc' paths are relative to")
    return load_native(path, corpus_dir)


def sample(items: Sequence[Any], n: int | None, seed: int = 13) -> list[Any]:
    """A deterministic sample of `n` items, in their original order (all items when `n` is None or large)."""
    if n is None or n >= len(items):
        return list(items)
    picked = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in picked]


def sample_balanced(queries: Sequence[EvalQuery], n: int, seed: int = 13) -> list[EvalQuery]:
    """A deterministic sample of `n` queries, half answerable and half not where both kinds exist."""
    answerable = [q for q in queries if q.answerable]
    unanswerable = [q for q in queries if not q.answerable]
    if not answerable or not unanswerable:
        return sample(queries, n, seed)
    n_unanswerable = min(len(unanswerable), n // 2)
    n_answerable = min(len(answerable), n - n_unanswerable)
    return sample(answerable, n_answerable, seed) + sample(unanswerable, n_unanswerable, seed)

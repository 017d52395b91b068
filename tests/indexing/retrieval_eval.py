"""Evidence resolver and recall@k for the indexing tests (the evals package has its own, fuller judge).

A query's relevant chunks are the chunks of its relevant document whose text contains the `evidence`
substring (compared after lower-casing, dropping markdown emphasis marks and collapsing whitespace); when
chunking cut the evidence in two, chunks holding its first or last half (>= 20 characters) count.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from indexing.store import IndexStore

_MARKS = re.compile(r"[*_`]+")


def normalize(text: str) -> str:
    return " ".join(_MARKS.sub("", text).lower().split())


def relevant_chunk_ids(store: IndexStore, source: str, evidence: str) -> set[str]:
    """Chunk ids of document `source` that contain `evidence` (or, if it straddles chunks, one half of it)."""
    record = store.get_document(source)
    if record is None:
        return set()
    chunks = [(c.chunk_id, normalize(c.text)) for c in store.document_chunks(record.doc_id)]
    wanted = normalize(evidence)
    found = {cid for cid, text in chunks if wanted in text}
    if not found:
        halves = [h for h in (wanted[: len(wanted) // 2], wanted[len(wanted) // 2:]) if len(h) >= 20]
        found = {cid for cid, text in chunks if any(h in text for h in halves)}
    return found


def load_queries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def recall_at_k(search, store: IndexStore, queries: list[dict], k: int, mode: str) -> tuple[float, int]:
    """Share of queries with a relevant chunk in the top k, searching as the query's groups; and unresolved."""
    hits_found, unresolved, judged = 0, 0, 0
    for query in queries:
        relevant = set().union(*(relevant_chunk_ids(store, r["doc"], r["evidence"]) for r in query["relevant"]))
        if not relevant:
            unresolved += 1
            continue
        judged += 1
        hits = search(query["question"], k, groups=query.get("groups"), mode=mode)
        hits_found += any(hit.chunk_id in relevant for hit in hits)
    return hits_found / max(judged, 1), unresolved

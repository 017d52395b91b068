"""Build the networkx graph from mention/edge rows, and persist it as node-link JSON with its generation.

Nodes are entity keys with `name`, `type`, `chunks`, `docs`, `mentions`, `label` and `sensitive`; edges are
(src, dst, relation) with the `chunks` that support them. Rows whose chunk is no longer in the index are
skipped, so the graph can never point at a deleted chunk.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from indexing.types import Classification
from knowledge_graph.catalog import EntityCatalog
from knowledge_graph.tables import SOURCE_RANK, EdgeRow, MentionRow

GRAPH_FORMAT = 1


@dataclass(frozen=True)
class ChunkMeta:
    """What the graph needs to know about an indexed chunk: its document, source path and label."""

    chunk_id: str
    doc_id: str
    source: str
    label: Classification


def build_graph(mentions: Iterable[MentionRow], edges: Iterable[EdgeRow], chunks: Mapping[str, ChunkMeta],
                catalog: EntityCatalog) -> nx.MultiDiGraph:
    """Derive the entity graph from stored rows, keeping only rows whose chunk is still indexed.

    Sensitive types (PERSON, ids) take the highest label among their chunks; other nodes take the lowest,
    since their name is as public as the least sensitive chunk that mentions it.
    """
    graph = nx.MultiDiGraph()
    by_key: dict[str, list[MentionRow]] = defaultdict(list)
    for row in mentions:
        if row.chunk_id in chunks:
            by_key[row.entity_key].append(row)
    for key, rows in by_key.items():
        graph.add_node(key, **_node_attributes(key, rows, chunks, catalog))
    support: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for edge in edges:
        if edge.chunk_id in chunks and edge.src in graph and edge.dst in graph:
            support[(edge.src, edge.dst, edge.relation)].add(edge.chunk_id)
    for (src, dst, relation), chunk_ids in sorted(support.items()):
        graph.add_edge(src, dst, key=relation, relation=relation, chunks=sorted(chunk_ids))
    return graph


def _node_attributes(key: str, rows: list[MentionRow], chunks: Mapping[str, ChunkMeta],
                     catalog: EntityCatalog) -> dict:
    declared = catalog.canonical(key)
    if declared is not None:
        name, type_ = declared.name, declared.type
    else:
        best_rank = min(SOURCE_RANK.get(r.source, 9) for r in rows)
        ranked = [r for r in rows if SOURCE_RANK.get(r.source, 9) == best_rank]
        type_ = Counter(r.type for r in ranked).most_common(1)[0][0]
        name = sorted(Counter(r.name for r in rows).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    labels = [int(chunks[r.chunk_id].label) for r in rows]
    sensitive = type_ in catalog.sensitive_types
    return {
        "name": name,
        "type": type_,
        "chunks": sorted({r.chunk_id for r in rows}),
        "docs": sorted({chunks[r.chunk_id].doc_id for r in rows}),
        "mentions": sum(r.count for r in rows),
        "label": max(labels) if sensitive else min(labels),
        "sensitive": sensitive,
    }


def save_graph(graph: nx.MultiDiGraph, path: Path, generation: object) -> None:
    """Write the graph as node-link JSON with the index generation it reflects (temp file + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": GRAPH_FORMAT, "generation": generation,
               "graph": nx.node_link_data(graph, edges="links")}
    fd, tmp = tempfile.mkstemp(prefix=".graph-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_graph(path: Path) -> tuple[nx.MultiDiGraph, object] | None:
    """Read a saved graph and its generation; None when missing, unreadable or of another format."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("format") != GRAPH_FORMAT:
        return None
    graph = nx.node_link_graph(payload["graph"], directed=True, multigraph=True, edges="links")
    return graph, payload.get("generation")

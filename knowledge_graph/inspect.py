"""Read-only views of the graph for people: one entity with its neighbours, and exports (GraphML, JSON)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

from indexing.types import Classification

if TYPE_CHECKING:  # pragma: no cover
    from knowledge_graph.store import KnowledgeGraph

EXPORT_FORMATS = ("graphml", "json")


def describe_entity(kg: "KnowledgeGraph", name: str, limit: int = 50) -> dict | None:
    """An entity and its neighbours, each edge with the chunks (and their sources) that support it.

    Args:
        kg: The knowledge graph.
        name: Entity name or alias (normalised and fuzzily matched).
        limit: Maximum number of neighbours listed (strongest first).

    Returns:
        None when no node matches `name`.
    """
    key = kg.find_node(name)
    if key is None:
        return None
    graph = kg.graph
    data = graph.nodes[key]
    edges = []
    for src, dst, attrs in [*graph.out_edges(key, data=True), *graph.in_edges(key, data=True)]:
        other = dst if src == key else src
        edges.append({"neighbour": graph.nodes[other].get("name", other), "type": graph.nodes[other].get("type"),
                      "relation": attrs["relation"], "direction": "out" if src == key else "in",
                      "chunks": list(attrs["chunks"])})
    edges.sort(key=lambda e: (e["relation"] == "co_occurs", -len(e["chunks"]), e["neighbour"], e["relation"]))
    edges = edges[:limit]
    sources = _sources(kg, sorted({c for e in edges for c in e["chunks"]} | set(data.get("chunks", ()))))
    for edge in edges:
        edge["sources"] = sorted({sources[c] for c in edge["chunks"] if c in sources})
    return {"key": key, "name": data.get("name", key), "type": data.get("type"),
            "label": str(Classification(int(data.get("label", 0)))), "sensitive": bool(data.get("sensitive")),
            "mentions": data.get("mentions", 0), "chunks": list(data.get("chunks", ())),
            "sources": sorted({sources[c] for c in data.get("chunks", ()) if c in sources}), "neighbours": edges}


def _sources(kg: "KnowledgeGraph", chunk_ids: Sequence[str]) -> dict[str, str]:
    hits = kg.store.get_chunks(list(kg.store.rowids_for(chunk_ids).values()))
    return {hit.chunk_id: hit.source for hit in hits}


def export_graph(graph: nx.MultiDiGraph, fmt: str, path: Path | None = None) -> str:
    """Serialise the graph as GraphML or node-link JSON; write it to `path` when given, return the text.

    GraphML holds only scalar attributes, so lists (chunk ids, doc ids) are joined with spaces.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")
    if fmt == "json":
        text = json.dumps(nx.node_link_data(graph, edges="links"), indent=1, ensure_ascii=False)
    else:
        flat = nx.MultiDiGraph()
        for node, data in graph.nodes(data=True):
            flat.add_node(node, **_scalars(data))
        for src, dst, key, data in graph.edges(keys=True, data=True):
            flat.add_edge(src, dst, key=key, **_scalars(data))
        text = "\n".join(nx.generate_graphml(flat)) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _scalars(data: dict) -> dict:
    return {k: " ".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v for k, v in data.items()}

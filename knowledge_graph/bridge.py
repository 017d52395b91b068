"""Bridge expansion: the second hop of a multi-hop question, through the entities of the first hop.

A multi-hop question ("which team owns the system whose full disk caused the March outage?") names
neither the bridge entity (Orion) nor the second document (the ownership table). The first hop (the best
hybrid hits) names the bridge; the graph's mentions lead from it to chunks of *other* documents; those
candidates are scored by their relevance to the question:

    score = (cosine(query, candidate) + matched / (1 + unanswered)) * specificity(bridge) / sqrt(first-hop rank)

where `unanswered` are the question's terms the first-hop chunk lacks (what is still to be found) and
`matched` how many of them the candidate contains (at least one is required: a second hop must add
something), and specificity = log(N / df) / log(N) over the documents the reader may see (an entity in
every document bridges nothing). Pure and deterministic; access control is the caller's `allowed` set:
no chunk outside it is a first hop, a bridge mention, a candidate or counted in df.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from indexing.types import Classification
from knowledge_graph.retrieve import GraphHit

MIN_UNANSWERED_MATCH = 1


@dataclass(frozen=True)
class Bridge:
    """A second-hop candidate: `chunk_id` reached from first-hop chunk `via` (rank `rank`) through entity `key`."""

    chunk_id: str
    key: str
    via: str
    rank: int
    specificity: float


@dataclass(frozen=True)
class ChunkText:
    """What scoring needs of a chunk: its index terms and its embedding (unit length)."""

    terms: frozenset[str]
    vector: np.ndarray


def find_bridges(graph: nx.MultiDiGraph, first_hop: Sequence[str], allowed: Collection[str],
                 chunk_docs: Mapping[str, str], exclude: Collection[str] = (),
                 chunk_entities: Mapping[str, Collection[str]] | None = None) -> list[Bridge]:
    """Chunks of other documents that share an entity with a first-hop chunk (pure; deterministic).

    Args:
        graph: The entity graph (nodes carry the `chunks` that mention them).
        first_hop: Chunk ids ranked by another retriever, best first; those outside `allowed` are skipped.
        allowed: Chunk ids the reader may see.
        chunk_docs: Chunk id -> document id (at least for the allowed chunks).
        exclude: Entity keys that are no bridge (those the question names: the first hop covers them).
        chunk_entities: Chunk id -> entity keys mentioned there (`chunk_entities_of(graph)`; computed if None).
    """
    allowed_set = allowed if isinstance(allowed, (set, frozenset)) else set(allowed)
    total_docs = len({chunk_docs[c] for c in allowed_set if c in chunk_docs})
    first = [c for c in first_hop if c in allowed_set and c in chunk_docs]
    entities = chunk_entities if chunk_entities is not None else chunk_entities_of(graph)
    out = []
    for rank, via in enumerate(first, start=1):
        for key in sorted(entities.get(via, ())):
            if key in exclude:
                continue
            reachable = [c for c in graph.nodes[key].get("chunks", ()) if c in allowed_set and c in chunk_docs]
            specificity = _specificity(len({chunk_docs[c] for c in reachable}), total_docs)
            out.extend(Bridge(c, key, via, rank, specificity) for c in reachable
                       if chunk_docs[c] != chunk_docs[via] and c not in first)
    return out


def score_bridges(graph: nx.MultiDiGraph, bridges: Sequence[Bridge], texts: Mapping[str, ChunkText],
                  query_vector: np.ndarray, query_terms: frozenset[str], k: int,
                  seeds: Collection[str] = ()) -> list[GraphHit]:
    """The `k` best second-hop chunks (see the module docstring), each with the path that reached it.

    Args:
        graph: The entity graph (for the path's names and labels).
        bridges: From `find_bridges`.
        texts: Terms and vectors of the first-hop and candidate chunks (missing ones are skipped).
        query_vector: The question's embedding (unit length, same model as the chunks').
        query_terms: `indexing.lexical.terms(question)`.
        k: Maximum number of hits.
        seeds: Entities the question names (preferred as the path's first element).
    """
    query_vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    best: dict[str, tuple[float, Bridge]] = {}
    for bridge in bridges:
        via, candidate = texts.get(bridge.via), texts.get(bridge.chunk_id)
        if via is None or candidate is None or bridge.specificity <= 0:
            continue
        unanswered = query_terms - via.terms
        matched = len(unanswered & candidate.terms)
        if matched < MIN_UNANSWERED_MATCH:
            continue
        relevance = float(candidate.vector @ query_vector) + matched / (1 + len(unanswered))
        score = relevance * bridge.specificity / math.sqrt(bridge.rank)
        old = best.get(bridge.chunk_id)
        if old is None or (-score, bridge.key, bridge.via) < (-old[0], old[1].key, old[1].via):
            best[bridge.chunk_id] = (score, bridge)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
    return [_hit(graph, score, bridge, seeds) for _, (score, bridge) in ranked]


def bridge_path(graph: nx.MultiDiGraph, bridge: Bridge, seeds: Collection[str] = ()) -> list[str]:
    """Node keys [first-hop entity, bridge, second-hop entity]: the entities that co-occur with the bridge
    in the first-hop and in the candidate chunk (question entities first, then the rarest); either end is
    left out when the chunk has no such entity."""
    start = _companion(graph, bridge.key, bridge.via, seeds, avoid=())
    end = _companion(graph, bridge.key, bridge.chunk_id, (), avoid={start} if start else ())
    return [*([start] if start else []), bridge.key, *([end] if end else [])]


def _hit(graph: nx.MultiDiGraph, score: float, bridge: Bridge, seeds: Collection[str]) -> GraphHit:
    path = bridge_path(graph, bridge, seeds)
    label = max((int(graph.nodes[n].get("label", 0)) for n in path), default=0)
    return GraphHit(bridge.chunk_id, round(score, 6), [[graph.nodes[n].get("name", n) for n in path]],
                    Classification(label))


def _companion(graph: nx.MultiDiGraph, key: str, chunk_id: str, seeds: Collection[str],
               avoid: Collection[str]) -> str | None:
    """The neighbour of `key` whose edge `chunk_id` supports, question entities first, then the rarest."""
    found = set()
    for u, v, data in [*graph.out_edges(key, data=True), *graph.in_edges(key, data=True)]:
        other = v if u == key else u
        if other != key and other not in avoid and chunk_id in data.get("chunks", ()):
            found.add(other)
    ranked = sorted(found, key=lambda n: (n not in seeds, len(graph.nodes[n].get("docs", ())), n))
    return ranked[0] if ranked else None


def chunk_entities_of(graph: nx.MultiDiGraph) -> dict[str, frozenset[str]]:
    """Chunk id -> the entity keys it mentions (the inverse of the nodes' `chunks`)."""
    out: dict[str, set[str]] = {}
    for key, data in graph.nodes(data=True):
        for chunk_id in data.get("chunks", ()):
            out.setdefault(chunk_id, set()).add(key)
    return {chunk_id: frozenset(keys) for chunk_id, keys in out.items()}


def _specificity(doc_count: int, total_docs: int) -> float:
    if doc_count < 2:  # mentioned in one document only: it bridges nothing
        return 0.0
    return max(0.0, math.log(total_docs / doc_count) / math.log(total_docs))

"""Graph retrieval: entities in the query -> neighbourhood (ACL-filtered) -> scored chunk ids with paths.

Access control is applied during the walk, not after it: an edge is traversable only through chunks the
user may see, and only allowed chunks are credited, so the graph never leads a user to (or through) a
chunk outside their groups.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import networkx as nx

from indexing.lexical import content_words, stem, words
from indexing.types import Classification
from knowledge_graph.extract import CO_OCCURS

RELATION_WEIGHT = {CO_OCCURS: 0.6}  # any other relation (a parsed verb) weighs 1.0
RELATION_MATCH_BOOST = 2.0  # the question uses the relation's verb ("who owns" and an `own` edge)
TYPE_MATCH_BOOST = 1.5  # the question asks for the neighbour's type ("which team" and a TEAM node)
MENTION_CREDIT = 0.5  # a chunk that merely mentions a reached entity counts less than one supporting an edge
SEED_CHUNK_WEIGHT = 0.5  # an entity of the best seed chunk counts half as much as one named in the question
MAX_SEED_CHUNKS = 3
MAX_PATHS_PER_NODE = 3
MAX_PATHS_PER_HIT = 3
_CAPITALISED = re.compile(r"\b[A-Z][\w\-]*")


@dataclass
class GraphHit:
    """A chunk reached through the graph: its id, score, the entity paths that reached it, and the highest
    label among the entities on those paths (sensitive names on a path make the context sensitive)."""

    chunk_id: str
    score: float
    paths: list[list[str]] = field(default_factory=list)
    label: Classification = Classification.PUBLIC


@dataclass(frozen=True)
class QueryAnalysis:
    """A question as the graph sees it: linked entities (key -> confidence), its words (lemmas) and the
    entity types it asks about."""

    seeds: dict[str, float]
    terms: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()


class GraphSource(Protocol):
    """What the retriever needs from the knowledge graph."""

    @property
    def graph(self) -> nx.MultiDiGraph: ...

    def analyze(self, query: str) -> QueryAnalysis: ...

    def allowed_chunk_ids(self, groups: Collection[str]) -> set[str]: ...


class GraphRetriever:
    """Search the knowledge graph for chunks related to the entities of a query.

    Args:
        graph: The knowledge graph (a `KnowledgeGraph`, or anything with `graph`, `link`, `allowed_chunk_ids`).
    """

    def __init__(self, graph: GraphSource) -> None:
        self.source = graph

    def search(self, query: str, *, groups: Collection[str] | None, k: int = 10, hops: int = 2,
               max_neighbours: int = 25, seed_chunks: Sequence[str] = ()) -> list[GraphHit]:
        """Return up to `k` chunks the user (member of `groups`) may see, best first.

        Args:
            query: The user's question.
            groups: The user's access groups; chunks outside them are never returned nor walked through.
            k: Maximum number of hits.
            hops: Edges to follow from the query's entities (0: only chunks mentioning them).
            max_neighbours: Neighbours followed per entity, strongest edges first.
            seed_chunks: Chunk ids already ranked by another retriever, best first (e.g. hybrid search): the
                entities they mention also seed the walk, with weight `SEED_CHUNK_WEIGHT / rank`. Multi-hop
                questions often hide the bridge entity ("the system whose disk filled up"), which only the
                text of a retrieved chunk names. Chunks outside `groups` are ignored.
        """
        analysis = self.source.analyze(query)
        allowed = self.source.allowed_chunk_ids(groups)
        graph = self.source.graph
        seeds = dict(analysis.seeds)
        for key, weight in entities_of_chunks(graph, [c for c in seed_chunks if c in allowed]).items():
            seeds[key] = max(seeds.get(key, 0.0), weight)
        if not seeds or k <= 0:
            return []
        return expand(graph, seeds, allowed, hops=hops, max_neighbours=max_neighbours,
                      terms=analysis.terms, types=analysis.types)[:k]


def entities_of_chunks(graph: nx.MultiDiGraph, chunk_ids: Sequence[str]) -> dict[str, float]:
    """Entities mentioned in ranked chunks, weighted `SEED_CHUNK_WEIGHT / rank` (best rank per entity)."""
    rank = {chunk_id: i for i, chunk_id in enumerate(chunk_ids[:MAX_SEED_CHUNKS], start=1)}
    if not rank:
        return {}
    weights: dict[str, float] = {}
    for key, data in graph.nodes(data=True):
        best = min((rank[c] for c in data.get("chunks", ()) if c in rank), default=None)
        if best is not None:
            weights[key] = SEED_CHUNK_WEIGHT / best
    return weights


def link_by_tokens(graph: nx.MultiDiGraph, query: str, aliases: Mapping[str, str] | None = None) -> dict[str, float]:
    """Fuzzy-ish linking on lower-cased tokens (Porter-stemmed, stop words ignored; see `indexing.lexical`).

    An undeclared one-word node must be capitalised in the query ("Kestrel", not "the system").
    A node (or alias) whose name occurs as a contiguous token run of the query scores 1.0; all its tokens
    present but apart scores 0.4; a multi-word name with at least two and at least half of its tokens
    present scores 0.5 times that fraction ("message queue" links "Orion message queue" -> Orion).

    Args:
        graph: The entity graph (node keys are normalised names).
        query: Free text.
        aliases: Extra alias key -> node key pairs (the catalogue's aliases) matched the same way.
    """
    words = _tokens(query)
    if not words:
        return {}
    present_words = set(words)
    capitalised = set(_tokens(" ".join(_CAPITALISED.findall(query))))
    joined = f" {' '.join(words)} "
    scores: dict[str, float] = {}
    candidates: Iterable[tuple[str, str]] = [(key, key) for key in graph.nodes]
    if aliases:
        candidates = [*candidates, *((alias, key) for alias, key in aliases.items() if key in graph)]
    declared = set(aliases.values()) if aliases else set()
    for name, key in candidates:
        name_words = _tokens(name)
        if not name_words:
            continue
        if len(name_words) == 1 and key not in declared and name_words[0] not in capitalised:
            continue  # an undeclared one-word node ("system", "bill") links only when written as a name
        hits = sum(1 for w in set(name_words) if w in present_words)
        fraction = hits / len(set(name_words))
        if f" {' '.join(name_words)} " in joined:
            score = 1.0
        elif fraction == 1.0:
            score = 0.4
        elif hits >= 2 and fraction >= 0.5:
            score = 0.5 * fraction
        else:
            continue
        if score > scores.get(key, 0.0):
            scores[key] = score
    return scores


def _tokens(text: str) -> list[str]:
    return [stem(word) for word in content_words(text)]


def expand(graph: nx.MultiDiGraph, seeds: Mapping[str, float], allowed: Collection[str], *, hops: int = 2,
           max_neighbours: int = 25, terms: Collection[str] = (), types: Collection[str] = ()) -> list[GraphHit]:
    """Walk from the seed entities and score the allowed chunks the walk reaches (pure; deterministic).

    A chunk earns, per path that reaches it, `w / (1 + h)` when it supports the path's edge at hop `h`
    (divided by the square root of the edge's allowed support) and `0.5 * w / (1 + h)` when it mentions an
    entity reached at hop `h` (divided by the square root of that entity's allowed chunks). `w` is the seed's
    link score times the strengths of the edges walked (co-occurrence 0.6, a parsed verb 1.0, each times
    support / (1 + support), times 2 when the question uses the relation's verb (`terms`) and 1.5 when the
    neighbour has a type the question asks about (`types`)). A chunk's score sums its credits per path over
    its best three paths.
    """
    hints = (frozenset(terms), frozenset(types))
    allowed = allowed if isinstance(allowed, (set, frozenset)) else set(allowed)
    credits: dict[str, list[tuple[float, tuple[str, ...]]]] = defaultdict(list)
    frontier: dict[str, list[tuple[float, tuple[str, ...]]]] = {}
    depth: dict[str, int] = {}
    for key, weight in sorted(seeds.items()):
        if key in graph and _allowed_chunks(graph.nodes[key], allowed):
            frontier[key] = [(weight, (key,))]
            depth[key] = 0
    for hop in range(0, hops + 1):
        for node, paths in sorted(frontier.items()):
            _credit_mentions(graph, node, paths, hop, allowed, credits)
        if hop == hops:
            break
        frontier = _step(graph, frontier, hop + 1, depth, allowed, max_neighbours, credits, hints)
    return _hits(graph, credits)


def _step(graph, frontier, hop, depth, allowed, max_neighbours, credits, hints):
    """Follow the strongest allowed edges out of the frontier; return the next frontier."""
    nxt: dict[str, list[tuple[float, tuple[str, ...]]]] = defaultdict(list)
    for node, paths in sorted(frontier.items()):
        for neighbour, strength, support in _neighbours(graph, node, allowed, hints)[:max_neighbours]:
            for weight, path in paths:
                if neighbour in path:
                    continue
                new_weight, new_path = weight * strength, (*path, neighbour)
                share = new_weight / (1 + hop) / math.sqrt(len(support))
                for chunk_id in support:
                    credits[chunk_id].append((share, new_path))
                if depth.setdefault(neighbour, hop) == hop:
                    nxt[neighbour].append((new_weight, new_path))
    return {node: sorted(paths, key=lambda p: (-p[0], p[1]))[:MAX_PATHS_PER_NODE] for node, paths in nxt.items()}


def _neighbours(graph: nx.MultiDiGraph, node: str, allowed: set[str],
                hints: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
                ) -> list[tuple[str, float, list[str]]]:
    """Neighbours of `node` in both directions with the edge strength and the allowed supporting chunks."""
    best: dict[str, tuple[float, set[str]]] = {}
    edges = [*graph.out_edges(node, data=True), *((v, u, d) for u, v, d in graph.in_edges(node, data=True))]
    for _, other, data in edges:
        support = {c for c in data["chunks"] if c in allowed}
        if not support or other == node:
            continue
        n = len(support)
        strength = RELATION_WEIGHT.get(data["relation"], 1.0) * n / (1 + n)
        if data["relation"] != CO_OCCURS and data["relation"].split()[0] in hints[0]:
            strength *= RELATION_MATCH_BOOST
        if graph.nodes[other].get("type") in hints[1]:
            strength *= TYPE_MATCH_BOOST
        old_strength, old_support = best.get(other, (0.0, set()))
        best[other] = (max(strength, old_strength), old_support | support)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [(other, strength, sorted(support)) for other, (strength, support) in ranked]


def _credit_mentions(graph, node, paths, hop, allowed, credits) -> None:
    chunk_ids = _allowed_chunks(graph.nodes[node], allowed)
    if not chunk_ids:
        return
    for weight, path in paths:
        share = MENTION_CREDIT * weight / (1 + hop) / math.sqrt(len(chunk_ids))
        for chunk_id in chunk_ids:
            credits[chunk_id].append((share, path))


def _allowed_chunks(attributes: dict, allowed: set[str]) -> list[str]:
    return [c for c in attributes.get("chunks", ()) if c in allowed]


def _hits(graph, credits) -> list[GraphHit]:
    """Score = sum of a chunk's best `MAX_PATHS_PER_HIT` path credits (one per path), so a chunk that lists
    many entities does not win by the number of its co-occurrences alone."""
    hits = []
    for chunk_id, chunk_credits in credits.items():
        best: dict[tuple[str, ...], float] = {}
        for share, path in chunk_credits:
            best[path] = best.get(path, 0.0) + share
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_PATHS_PER_HIT]
        score = sum(share for _, share in ranked)
        paths = [path for path, _ in ranked]
        label = max((int(graph.nodes[n].get("label", 0)) for p in paths for n in p), default=0)
        names = [[graph.nodes[n].get("name", n) for n in p] for p in paths]
        hits.append(GraphHit(chunk_id, round(score, 6), names, Classification(label)))
    hits.sort(key=lambda h: (-h.score, h.chunk_id))
    return hits


def query_words(text: str) -> list[str]:
    """Lower-case words of a text, stop words included (for type hints such as "who")."""
    return words(text)

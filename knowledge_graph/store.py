"""`KnowledgeGraph`: the ingest listener that keeps the entity graph consistent with the index, and its reader.

Source of truth: the `kg_*` tables in the index's SQLite database, written inside each document's ingest
transaction through the store's write hooks (so crashes and deletes need no extra care). Everything else
about chunks comes through `IndexStore`'s API (`chunk_refs`, `chunk_vectors`, `snapshot`,
`extension_write`); this module never opens the database nor reads the store's tables. The networkx graph is derived from them, rebuilt
once per ingest batch in `commit()`, saved to `<index_dir>/graph/graph.json` with the state it reflects
(the store's generation and the graph rows' revision), and reloaded or rebuilt whenever that state moved on
(another process ingested while this one serves).
"""
from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from indexing.types import Chunk
from knowledge_graph import tables
from knowledge_graph.bridge import ChunkText, chunk_entities_of, find_bridges, score_bridges
from knowledge_graph.catalog import EntityCatalog, normalize_key
from knowledge_graph.extract import EntityExtractor, Extraction
from knowledge_graph.graph import ChunkMeta, build_graph, load_graph, save_graph
from indexing.lexical import STOP_WORDS, terms
from knowledge_graph.retrieve import GraphHit, GraphRetriever, QueryAnalysis, link_by_tokens, query_words

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language

    from indexing.store import IndexStore

GRAPH_FILE = "graph.json"


@dataclass(frozen=True)
class PreparedChunks:
    """The result of `prepare()`: one extraction per chunk, computed outside the write transaction."""

    items: tuple[tuple[str, str, Extraction], ...]  # (chunk_id, doc_id, extraction)


class KnowledgeGraph:
    """Entity graph of an `IndexStore`, kept in step with it by the ingest listener protocol.

    Args:
        store: The index whose chunks the graph describes (its SQLite file also holds the graph rows).
        nlp: The loaded spaCy pipeline shared with Presidio; needed to ingest and to link query entities
            (without it, queries are linked by token matching only and `prepare()` refuses).
        catalog: Domain entities and aliases (default: the packaged `entities.yaml`).
        catalog_path: YAML file to load the catalogue from, when `catalog` is not given.
        graph_dir: Where graph.json lives (default: `<index_dir>/graph`).
        hops: Default number of edges `search` follows.
        max_neighbours: Default neighbours followed per entity in `search`.
        noun_phrases: Also extract proper-noun phrases the NER missed.
    """

    def __init__(self, store: "IndexStore", nlp: "Language | None" = None, *, catalog: EntityCatalog | None = None,
                 catalog_path: Path | str | None = None, graph_dir: Path | str | None = None, hops: int = 2,
                 max_neighbours: int = 25, noun_phrases: bool = True) -> None:
        self.store = store
        self.nlp = nlp
        self.catalog = catalog or EntityCatalog.from_yaml(catalog_path)
        self.graph_dir = Path(graph_dir) if graph_dir is not None else Path(store.index_dir) / "graph"
        self.hops = hops
        self.max_neighbours = max_neighbours
        self.noun_phrases = noun_phrases
        self.rebuild_count = 0  # how many times the graph was derived from the rows (tests count this)
        self._extractor: EntityExtractor | None = None
        self._graph: nx.MultiDiGraph | None = None
        self._state: tuple[int, int] | None = None
        self._rowids: dict[int, str] = {}
        self._chunk_docs: dict[str, str] = {}
        self._chunk_entities: dict[str, frozenset[str]] | None = None
        self._lock = threading.RLock()

    # --- ingest listener protocol ------------------------------------------------------------------
    def prepare(self, chunks: Sequence[Chunk]) -> PreparedChunks:
        """Extract entities and relations of a document's chunks (heavy; runs outside the transaction)."""
        extractions = self.extractor.extract([chunk.text for chunk in chunks])
        return PreparedChunks(tuple((c.chunk_id, c.doc_id, e) for c, e in zip(chunks, extractions)))

    def prepare_parsed(self, chunks: Sequence[Chunk], parses: Sequence[object]) -> PreparedChunks:
        """Like `prepare`, from the chunks' passages as the labeller parsed them ("title: text", one spaCy Doc
        per chunk): no second parse. Entities come from the chunk text only (see `EntityExtractor.extract_parsed`)."""
        extractions = self.extractor.extract_parsed([chunk.text for chunk in chunks], parses)
        return PreparedChunks(tuple((c.chunk_id, c.doc_id, e) for c, e in zip(chunks, extractions)))

    def write(self, conn: sqlite3.Connection, prepared: PreparedChunks | None,
              removed_chunk_ids: Sequence[str]) -> None:
        """Replace the graph rows of a document inside its transaction (`prepared=None`: a delete)."""
        tables.ensure_schema(conn)
        items = prepared.items if prepared is not None else ()
        tables.delete_chunks(conn, [*removed_chunk_ids, *(chunk_id for chunk_id, _, _ in items)])
        tables.insert_extractions(conn, items)
        tables.bump_revision(conn)

    def commit(self) -> None:
        """Derive the graph from the rows once for the whole batch and save it next to the index."""
        with self._lock:
            self._rebuild(save=True)

    # --- reading -----------------------------------------------------------------------------------
    @property
    def extractor(self) -> EntityExtractor:
        """The entity extractor over the shared spaCy pipeline (raises if none was given)."""
        if self._extractor is None:
            if self.nlp is None:
                raise RuntimeError("KnowledgeGraph was built without a spaCy pipeline; pass nlp= (the one "
                                   "PresidioDetector loaded) to extract entities")
            self._extractor = EntityExtractor(self.nlp, self.catalog, noun_phrases=self.noun_phrases)
        return self._extractor

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The current graph: reloaded from graph.json or rebuilt from the rows when the index moved on."""
        with self._lock:
            state = self._current_state()
            if self._graph is None or self._state != state:
                loaded = load_graph(self.graph_path)
                if loaded is not None and _as_state(loaded[1]) == state:
                    self._graph, self._state = loaded[0], state
                    self._rowids, self._chunk_docs, self._chunk_entities = {}, {}, None
                else:
                    self._rebuild(save=True)
            return self._graph

    @property
    def graph_path(self) -> Path:
        """The saved graph file."""
        return self.graph_dir / GRAPH_FILE

    def link(self, query: str) -> dict[str, float]:
        """Link the entities of a query to node keys with a confidence in (0, 1]."""
        return self.analyze(query).seeds

    def analyze(self, query: str) -> QueryAnalysis:
        """Linked entities, words (lemmas when spaCy is available) and asked-for types of a question."""
        graph = self.graph
        seeds = link_by_tokens(graph, query, self._alias_keys())
        words = query_words(query)
        terms = set(words) - STOP_WORDS
        if self.nlp is not None:
            doc = self.nlp(query)
            for mention in self.extractor.extract_doc(doc).mentions:
                if mention.key in graph:
                    seeds[mention.key] = 1.0
            terms |= {t.lemma_.lower() for t in doc if not (t.is_punct or t.is_stop)}
        return QueryAnalysis(seeds, frozenset(terms), frozenset(self.catalog.hinted_types(words)))

    def allowed_chunk_ids(self, groups: Collection[str] | None) -> set[str]:
        """Chunk ids readable by any of `groups`, by the store's own access rule (None: every chunk)."""
        self.graph  # noqa: B018 - make sure the rowid map matches the store's generation
        with self._lock:
            if not self._rowids:
                refs = self.store.chunk_refs()
                self._rowids, self._chunk_docs = {r.rowid: r.chunk_id for r in refs}, {r.chunk_id: r.doc_id for r in refs}
            rowids = self._rowids
        allowed = self.store.allowed_chunk_ids(groups)
        if allowed is None:
            return set(rowids.values())
        return {rowids[r] for r in allowed.tolist() if r in rowids}

    def search(self, query: str, *, groups: Collection[str] | None, k: int = 10, hops: int | None = None,
               max_neighbours: int | None = None, seed_chunks: Sequence[str] = ()) -> list[GraphHit]:
        """Chunks related to the query's entities that `groups` may read (see `GraphRetriever.search`)."""
        return GraphRetriever(self).search(query, groups=groups, k=k, hops=self.hops if hops is None else hops,
                                           max_neighbours=self.max_neighbours if max_neighbours is None
                                           else max_neighbours, seed_chunks=seed_chunks)

    def bridge_search(self, query: str, *, groups: Collection[str] | None, first_hop: Sequence[str],
                      query_vector: np.ndarray, k: int = 5) -> list[GraphHit]:
        """Second-hop chunks for a multi-hop question: chunks of other documents that share an entity (the
        bridge) with the first-hop chunks, scored by relevance to the question (see `knowledge_graph.bridge`).

        Args:
            query: The question.
            groups: The reader's groups; no chunk outside them is used as a first hop, bridge or result.
            first_hop: Chunk ids ranked by another retriever (hybrid search), best first.
            query_vector: The question's embedding by the model that embedded the chunks.
            k: Maximum number of hits.

        Returns:
            Hits best first; each has one path [first-hop entity, bridge, second-hop entity] (names).
        """
        allowed = self.allowed_chunk_ids(groups)
        analysis = self.analyze(query)
        with self._lock:
            graph, chunk_docs = self.graph, self._chunk_docs
            if self._chunk_entities is None:
                self._chunk_entities = chunk_entities_of(graph)
            entities = self._chunk_entities
        bridges = find_bridges(graph, first_hop, allowed, chunk_docs, exclude=analysis.seeds,
                               chunk_entities=entities)
        if not bridges or k <= 0:
            return []
        texts = self._chunk_texts({c for b in bridges for c in (b.chunk_id, b.via)})
        return score_bridges(graph, bridges, texts, query_vector, terms(query), k, seeds=analysis.seeds)

    def find_node(self, name: str) -> str | None:
        """The node key for a name or alias (exact after normalisation, else the best token match)."""
        graph = self.graph
        key = self.catalog.resolve(name)
        if key in graph:
            return key
        scores = link_by_tokens(graph, name, self._alias_keys())
        best = sorted(scores.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
        return best[0][0] if best and best[0][1] >= 0.5 else None

    def stats(self) -> dict:
        """Counts: nodes, edges (by relation kind), nodes by type, documents and chunks covered."""
        graph = self.graph
        relations = Counter(data["relation"] for _, _, data in graph.edges(data=True))
        docs = {doc for _, data in graph.nodes(data=True) for doc in data.get("docs", ())}
        chunks = {c for _, data in graph.nodes(data=True) for c in data.get("chunks", ())}
        return {
            "nodes": graph.number_of_nodes(),
            "edges": graph.number_of_edges(),
            "co_occurrence_edges": relations.get("co_occurs", 0),
            "relation_edges": graph.number_of_edges() - relations.get("co_occurs", 0),
            "nodes_by_type": dict(sorted(Counter(d.get("type", "?") for _, d in graph.nodes(data=True)).items())),
            "top_relations": dict(relations.most_common(10)),
            "docs_covered": len(docs),
            "documents": len(self.store.list_documents()),
            "chunks_with_entities": len(chunks),
            "generation": self._state[0] if self._state else None,
            "graph_file": str(self.graph_path),
        }

    def backfill(self, batch_size: int = 64) -> int:
        """Extract entities for indexed chunks that never went through extraction; return how many.

        Use after ingesting without the graph listener (the graph otherwise misses those documents).
        """
        with self.store.snapshot() as conn:
            done = tables.extracted_chunk_ids(conn)
        missing = [c for doc in self.store.list_documents() for c in self.store.document_chunks(doc.doc_id)
                   if c.chunk_id not in done]
        for start in range(0, len(missing), batch_size):
            prepared = self.prepare(missing[start:start + batch_size])
            with self.store.extension_write() as conn:
                live = {ref.chunk_id for ref in self.store.chunk_refs()}
                self.write(conn, PreparedChunks(tuple(i for i in prepared.items if i[0] in live)), ())
        self.commit()
        return len(missing)

    def close(self) -> None:
        """Nothing to release: the graph reads through the store, which owns the connection."""

    # --- internals ---------------------------------------------------------------------------------
    def _chunk_texts(self, chunk_ids: Collection[str]) -> dict[str, ChunkText]:
        """Index terms and stored embeddings of chunks."""
        return {chunk_id: ChunkText(terms(text), vector)
                for chunk_id, (text, vector) in self.store.chunk_vectors(chunk_ids).items()}

    def _current_state(self) -> tuple[int, int]:
        with self.store.snapshot() as conn:
            return self.store.generation(), tables.revision(conn)

    def _rebuild(self, *, save: bool) -> None:
        with self.store.snapshot() as conn:  # one view: the state, rows and chunk metadata agree
            state = (self.store.generation(), tables.revision(conn))
            mentions, edges = tables.read_mentions(conn), tables.read_edges(conn)
            refs = self.store.chunk_refs()
        metas = {r.chunk_id: ChunkMeta(r.chunk_id, r.doc_id, r.source, r.label) for r in refs}
        self._graph = build_graph(mentions, edges, metas, self.catalog)
        self._state, self._rowids = state, {r.rowid: r.chunk_id for r in refs}
        self._chunk_docs, self._chunk_entities = {r.chunk_id: r.doc_id for r in refs}, None
        self.rebuild_count += 1
        if save:
            try:
                save_graph(self._graph, self.graph_path, list(state))
            except OSError:  # read-only index folder: serve from memory
                pass

    def _alias_keys(self) -> dict[str, str]:
        return {normalize_key(form): entity.key for entity in self.catalog.entities for form in entity.surface_forms}


def _as_state(value: object) -> tuple[int, int] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[0]), int(value[1])
    return None

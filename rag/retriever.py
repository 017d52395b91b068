"""The retriever: dense + BM25 + knowledge graph, fused with RRF, filtered by the caller's groups.

Access control happens inside every retriever (FAISS id selector, FTS5 join, graph chunk filter), so
`k` allowed results come back whenever `k` allowed chunks exist. Also offered as a langchain-core
`BaseRetriever` (`as_langchain`) for interop.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from indexing.search import HybridSearcher
from indexing.types import SearchHit

if TYPE_CHECKING:  # pragma: no cover
    from knowledge_graph.store import KnowledgeGraph

MODES = ("dense", "bm25", "hybrid", "graph", "all")


class Retriever:
    """Search the index in one of `MODES` for a reader with `groups` (None: unrestricted).

    Args:
        searcher: dense, BM25 and hybrid search over the store; its fusion weights may name "graph" too.
        graph: the knowledge graph, or None ("graph" mode then fails, "all" means hybrid).
        candidate_pool: candidates each retriever contributes before fusion.
    """

    def __init__(self, searcher: HybridSearcher, graph: "KnowledgeGraph | None" = None,
                 candidate_pool: int = 50) -> None:
        self.searcher = searcher
        self.graph = graph
        self.candidate_pool = candidate_pool

    def search(self, query: str, *, groups: Sequence[str] | None, k: int, mode: str = "all") -> list[SearchHit]:
        """The k best chunks for `query` readable by `groups`.

        Raises:
            ValueError: unknown mode or k < 1 (the message lists the modes).
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of: {', '.join(MODES)}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if mode in ("dense", "bm25", "hybrid"):
            return self.searcher.search(query, k, groups, mode)
        if self.graph is None:
            if mode == "graph":
                raise ValueError("no knowledge graph is configured; use dense, bm25 or hybrid")
            return self.searcher.search(query, k, groups, "hybrid")
        pool = max(k, self.candidate_pool)
        graph_hits = self.graph.search(query, groups=groups, k=pool)
        rowids = self.searcher.store.rowids_for([hit.chunk_id for hit in graph_hits])
        ranked_graph = [(rowids[h.chunk_id], h.score) for h in graph_hits if h.chunk_id in rowids]
        if mode == "graph":
            hits = self.searcher.hits_for("graph", ranked_graph)[:k]
        else:
            ranked = self.searcher.candidates(query, groups, pool)
            ranked["graph"] = ranked_graph
            hits = self.searcher.fuse(ranked, k)
        paths = {hit.chunk_id: hit.paths for hit in graph_hits}
        for hit in hits:
            hit.graph_paths = [list(path) for path in paths.get(hit.chunk_id, [])]
        return hits

    def as_langchain(self, *, groups: Sequence[str] | None, k: int = 5, mode: str = "all") -> "LangchainRetriever":
        """This retriever as a langchain-core `BaseRetriever` bound to one reader's groups."""
        return LangchainRetriever(retriever=self, groups=None if groups is None else tuple(groups), k=k, mode=mode)


class LangchainRetriever(BaseRetriever):
    """langchain-core adapter: `invoke(query)` returns Documents with chunk metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    groups: tuple[str, ...] | None = None
    k: int = 5
    mode: str = "all"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.search(query, groups=self.groups, k=self.k, mode=self.mode)
        return [Document(page_content=hit.text, id=hit.chunk_id,
                         metadata={"chunk_id": hit.chunk_id, "doc_id": hit.doc_id, "source": hit.source,
                                   "title": hit.title, "score": hit.score, "label": str(hit.label),
                                   "retrievers": hit.retrievers, "graph_paths": hit.graph_paths})
                for hit in hits]

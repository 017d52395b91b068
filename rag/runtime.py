"""Builds the components from settings, once, lazily. Entry points (CLI, API) own one Runtime.

Heavy models load on first use (or in `warm_up()`), never at import time. Each property names the
class that provides it; the leaf packages never read settings themselves.
"""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from rag.config import Settings

if TYPE_CHECKING:  # pragma: no cover
    from indexing.embedder import Embedder
    from indexing.ingest import Ingestor
    from indexing.search import HybridSearcher
    from indexing.store import IndexStore
    from knowledge_graph.store import KnowledgeGraph
    from rag.assistant import Assistant
    from rag.retriever import Retriever
    from routing.backends.base import GenerationBackend
    from routing.detect import PresidioDetector


def use_compute_threads(n: int) -> None:
    """Intra-op threads of torch and FAISS for this process (0: leave the libraries' defaults).

    One query embeds one short text and searches one vector: a second thread gains nothing, and under load
    (other requests, other processes) threads that wait for each other cost 10-30x (`rag bench query`).
    """
    if n <= 0:
        return
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


class Runtime:
    """Lazily-built components of one running assistant (CLI invocation or API process)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.settings.home.mkdir(parents=True, exist_ok=True)

    # --- indexing --------------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> "Embedder":
        from indexing.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(self.settings.embedding_model_path, batch_size=self.settings.embedding_batch_size)

    @cached_property
    def store(self) -> "IndexStore":
        from indexing.store import IndexStore

        return IndexStore(self.settings.index_dir, dim=self.embedder.dim,
                          approx_threshold=self.settings.ann_threshold_chunks, nprobe=self.settings.ann_nprobe)

    @cached_property
    def detector(self) -> "PresidioDetector":
        from routing.detect import PresidioDetector

        return PresidioDetector.from_yaml(self.settings.recognizers_path, spacy_model=self.settings.spacy_model)

    @cached_property
    def graph(self) -> "KnowledgeGraph":
        from knowledge_graph.store import KnowledgeGraph

        return KnowledgeGraph(self.store, nlp=self.detector.nlp, catalog_path=self.settings.graph_entities_path,
                              hops=self.settings.graph_hops, max_neighbours=self.settings.graph_max_neighbours)

    @cached_property
    def ingestor(self) -> "Ingestor":
        from indexing.ingest import Ingestor
        from rag.ingest_labels import PresidioLabeler

        return Ingestor(
            store=self.store,
            embedder=self.embedder,
            labeler=PresidioLabeler(self.detector) if self.settings.ingest_detect else None,
            listeners=[self.graph] if self.settings.ingest_graph else [],
            max_file_bytes=self.settings.max_file_bytes,
            chunk_max_tokens=self.settings.chunk_max_tokens,
            chunk_overlap_tokens=self.settings.chunk_overlap_tokens,
            default_groups=self.settings.default_groups,
            default_classification=self.settings.default_classification,
            embed_batch_chunks=self.settings.ingest_batch_chunks,
            overlap=self.settings.ingest_overlap,
        )

    # --- query path ------------------------------------------------------------------------------
    @cached_property
    def searcher(self) -> "HybridSearcher":
        from indexing.search import HybridSearcher

        s = self.settings
        return HybridSearcher(self.store, self.embedder, rrf_k=s.rrf_k, weights=s.fusion_weights,
                              candidate_pool=s.candidate_pool)

    @cached_property
    def retriever(self) -> "Retriever":
        from rag.retriever import Retriever

        graph = self.graph if self.settings.search_mode in ("graph", "all") else None
        s = self.settings
        return Retriever(self.searcher, graph, candidate_pool=s.candidate_pool, protected_hits=s.graph_protected_hits,
                         first_hop=s.graph_first_hop, bridge_candidates=s.graph_bridge_candidates)

    @cached_property
    def backends(self) -> dict[str, "GenerationBackend"]:
        from routing.backends import LlamaCppBackend, OpenAICompatBackend

        s = self.settings
        return {
            "local": LlamaCppBackend(s.llama_model_path, n_threads=s.llama_threads, n_ctx=s.llama_ctx,
                                     lock_timeout_s=s.local_queue_wait_s, queue_depth=s.local_queue_depth),
            "server": OpenAICompatBackend(s.vllm_url, s.vllm_model, api_key=s.vllm_api_key, timeout_s=s.vllm_timeout_s),
        }

    @cached_property
    def assistant(self) -> "Assistant":
        from rag.assistant import Assistant

        return Assistant.from_runtime(self)

    def warm_up(self) -> None:
        """Load every model now (API start-up) instead of on the first request."""
        self.embedder.warm_up()
        self.detector.warm_up()
        for backend in self.backends.values():
            backend.warm_up()

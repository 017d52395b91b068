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
    from indexing.store import IndexStore
    from knowledge_graph.store import KnowledgeGraph
    from rag.assistant import Assistant
    from rag.retriever import Retriever
    from routing.detect import PresidioDetector


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

        return IndexStore(self.settings.index_dir, dim=self.embedder.dim)

    @cached_property
    def detector(self) -> "PresidioDetector":
        from routing.detect import PresidioDetector

        return PresidioDetector.from_yaml(self.settings.recognizers_path, spacy_model=self.settings.spacy_model)

    @cached_property
    def graph(self) -> "KnowledgeGraph":
        from knowledge_graph.store import KnowledgeGraph

        return KnowledgeGraph(self.store, nlp=self.detector.nlp)

    @cached_property
    def ingestor(self) -> "Ingestor":
        from indexing.ingest import Ingestor

        return Ingestor(
            store=self.store,
            embedder=self.embedder,
            labeler=self.detector.label_texts,
            listeners=[self.graph],
            max_file_bytes=self.settings.max_file_bytes,
            chunk_max_tokens=self.settings.chunk_max_tokens,
            chunk_overlap_tokens=self.settings.chunk_overlap_tokens,
        )

    # --- query path ------------------------------------------------------------------------------
    @cached_property
    def retriever(self) -> "Retriever":
        from rag.retriever import Retriever

        return Retriever.from_settings_parts(self.store, self.embedder, self.graph, self.settings)

    @cached_property
    def assistant(self) -> "Assistant":
        from rag.assistant import Assistant

        return Assistant.from_runtime(self)

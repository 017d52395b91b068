"""The ingest labeller: Presidio labels each chunk, and its spaCy parse is handed on to the knowledge graph.

Presidio and the graph extractor use the same spaCy pipeline; parsing each chunk once and giving the Doc to
both (`label_parsed`) halves the NLP work of an ingest with labels and graph (see `rag bench ingest`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from indexing.types import Classification

if TYPE_CHECKING:  # pragma: no cover
    from routing.detect import PresidioDetector


class PresidioLabeler:
    """`indexing.ingest.ParsingLabeler` over a `PresidioDetector`.

    Args:
        detector: The detector (its spaCy pipeline is the one the graph uses).
    """

    def __init__(self, detector: "PresidioDetector") -> None:
        self.detector = detector

    def __call__(self, texts: list[str]) -> list[Classification]:
        """One label per text (no parses kept)."""
        return [Classification(int(level)) for level in self.detector.label_texts(texts)]

    def label_parsed(self, texts: list[str]) -> tuple[list[Classification], list[object]]:
        """One label and one spaCy Doc per text, parsed once."""
        detections, docs = self.detector.classify_parsed(texts)
        return [Classification(int(d.level)) for d in detections], docs

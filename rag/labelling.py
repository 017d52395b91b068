"""Ingest-time labels (wiring routing detection into indexing): the chunk labeller (level + findings summary) and the stamp that dates them.

A stored label is trusted at query time only while its stamp equals `detector_stamp(...)`; a new
detector version or a changed recognizers file makes every label stale (`rag index status` counts
them, `rag index relabel` brings them up to date, and until then the query path re-analyses them).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from indexing.types import ChunkLabel
from routing.router import Classifier

STAMP_SCHEME = "labels-v1"  # bump when what a label means changes (e.g. what text is labelled)


def detector_stamp(detector: object, recognizers_path: str | Path, spacy_model: str = "") -> str:
    """The stamp of labels made by `detector` with the configuration in `recognizers_path`.

    Uses the detector's `version` attribute when it has one; always folds in a hash of the recognizers
    file and the spaCy model, so a configuration change alone also makes labels stale.
    """
    digest = hashlib.sha256()
    path = Path(recognizers_path)
    config = path.read_bytes() if path.is_file() else b""
    version = str(getattr(detector, "version", "") or "")
    for part in (STAMP_SCHEME.encode(), version.encode(), spacy_model.encode(), config):
        digest.update(len(part).to_bytes(8, "big") + part)
    return f"{version or 'detector'}:{digest.hexdigest()[:16]}"


def chunk_labeler(detector: Classifier) -> Callable[[list[str]], list[ChunkLabel]]:
    """A `indexing.ingest.Labeler`: each passage's level and its findings summary (types, offsets, levels)."""

    def label(texts: list[str]) -> list[ChunkLabel]:
        detections = detector.classify_many(texts, passages=True)
        return [ChunkLabel(d.level, tuple(f.to_dict() for f in d.findings)) for d in detections]

    return label


__all__ = ["detector_stamp", "chunk_labeler", "STAMP_SCHEME"]

"""Ingest with the embedding thread helping the personal-matter classifier's sentence embeddings: the
same vectors and so the same labels and findings as without that help (slow: real MiniLM, Presidio)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import indexing.embedder as embedder_module
from indexing.ingest import Ingestor
from indexing.shared_batches import embed_in_shared_batches
from indexing.store import IndexStore
from rag.labelling import ChunkLabeler

ROOT = Path(__file__).resolve().parents[2]
HR = ROOT / "data" / "corpus" / "hr"  # names people in most passages: the classifier runs on many sentences

pytestmark = pytest.mark.slow


def test_when_embedding_in_shared_batches_then_vectors_equal_one_encode_call(embedder) -> None:
    texts = [f"Sentence {i}: " + "word " * (i % 37) for i in range(3 * embedder.batch_size + 5)]
    alone = embedder.embed(texts)
    with ThreadPoolExecutor(1) as pool, embedder.sharing(pool):
        shared = embedder.embed(texts)
    np.testing.assert_array_equal(shared, alone)  # the same padded batches: bit for bit


class _Recording(ChunkLabeler):
    def __init__(self, detector) -> None:
        super().__init__(detector)
        self.labels: list = []

    def __call__(self, texts):
        labels = super().__call__(texts)
        self.labels += labels
        return labels


def test_when_ingesting_with_shared_batches_then_every_label_and_finding_is_unchanged(
        tmp_path, monkeypatch, embedder, detector) -> None:
    shared_calls = []

    def counting(encode, texts, batch_size, helper):
        shared_calls.append(len(texts))
        return embed_in_shared_batches(encode, texts, batch_size, helper)

    monkeypatch.setattr(embedder_module, "embed_in_shared_batches", counting)
    results = {}
    for share in (False, True):
        store = IndexStore(tmp_path / f"index-{share}", dim=embedder.dim)
        labeler = _Recording(detector)
        Ingestor(store, embedder, labeler=labeler, share_embedding=share).ingest_paths([HR])
        store.close()
        results[share] = labeler.labels
        assert bool(shared_calls) is share  # the classifier's embeddings went through the shared path
    assert len(results[True]) == len(results[False]) > 20
    assert results[True] == results[False]
    findings = [f for label in results[True] for f in label.findings]
    assert any(f["entity_type"] == "PERSONAL_MATTER" for f in findings)  # the classifier's findings are compared

"""One spaCy parse per chunk at ingest: Presidio's labels with the shared parse equal those without it, and
the knowledge graph is built from that same parse (slow: real Presidio, spaCy and MiniLM)."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexing.chunking import chunk_document
from indexing.ingest import Ingestor, doc_id_for, expand_paths
from indexing.loaders import load_file
from indexing.store import IndexStore
from indexing.types import passage_text
from knowledge_graph.store import KnowledgeGraph
from rag.labelling import ChunkLabeler
from routing.detection_config import caps_to_title
from routing.normalize import normalize

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "corpus"

pytestmark = pytest.mark.slow


def _sample_passages(embedder, detector) -> list[str]:
    """Passages of the sample corpus: every one Presidio sees rewritten (ALL-CAPS runs, spelled digits:
    parsed twice), every one with a finding-prone digit, and every 6th of the rest (time)."""
    passages = []
    for path, source, _ in expand_paths([CORPUS]):
        document = load_file(path, 20 * 1024 * 1024, source=source)
        for chunk in chunk_document(doc_id_for(source), document, embedder.count_tokens, 200, 40):
            passages.append(passage_text(document.title, chunk.text))
    stop = detector._caps_stop_words
    rewritten = [p for p in passages if caps_to_title(normalize(p).text, stop) != p]
    rest = [p for p in passages if p not in rewritten]
    chosen = rewritten + [p for i, p in enumerate(rest) if i % 6 == 0 or any(ch.isdigit() for ch in p)][:60]
    assert len(rewritten) >= 10 and len(chosen) >= 50  # both paths of `classify_parsed` are exercised
    return chosen


def test_when_labelling_with_the_shared_parse_then_labels_and_findings_equal_the_plain_labeller(embedder, detector):
    passages = _sample_passages(embedder, detector)
    labeler = ChunkLabeler(detector)
    shared, docs = labeler.label_parsed(passages)
    assert shared == labeler(passages)
    assert any(label.findings for label in shared)  # the sample holds findings: the comparison is not vacuous
    assert [doc.text for doc in docs] == passages  # each parse is of exactly its passage (title included)


def test_when_ingesting_with_labels_and_graph_then_one_parse_feeds_both(tmp_path, embedder, detector):
    store = IndexStore(tmp_path / "index", dim=embedder.dim)
    graph = KnowledgeGraph(store, nlp=detector.nlp)
    calls = {"plain": 0, "parsed": 0}

    class Counting(ChunkLabeler):
        def __call__(self, texts):
            calls["plain"] += 1
            return super().__call__(texts)

        def label_parsed(self, texts):
            calls["parsed"] += 1
            return super().label_parsed(texts)

    extract = graph.extractor.extract
    graph.extractor.extract = lambda texts: pytest.fail(f"the graph parsed {len(texts)} chunk(s) again")
    try:
        report = Ingestor(store, embedder, labeler=Counting(detector), listeners=[graph]).ingest_paths(
            [CORPUS / "engineering"])
    finally:
        graph.extractor.extract = extract
    assert report.ok and report.chunks_written > 0 and calls == {"plain": 0, "parsed": 1}
    assert {"orion", "platform team"} <= set(graph.graph.nodes)
    graph.close()
    store.close()

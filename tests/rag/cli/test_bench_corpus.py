"""The synthetic corpus of `rag bench query`: written through the real store and graph, ACL spread over ten
groups, IVF from the threshold on, and questions that name its entities."""
from __future__ import annotations

from pathlib import Path

from rag.cli import bench_corpus


def test_when_synthetic_corpus_is_built_then_store_graph_and_acl_are_real(tmp_path: Path) -> None:
    corpus = bench_corpus.build(tmp_path / "index", 400, dim=16, approx_threshold=300, nprobe=4)
    stats = corpus.store.stats()
    assert (stats["chunks"], stats["documents"], stats["faiss_kind"]) == (400, 40, "ivf")
    allowed = corpus.store.allowed_chunk_ids(["g0"])
    assert len(allowed) == 40  # one group of ten reads 10% of the chunks
    hits = corpus.store.dense_search(corpus.centres[0], 10, ["g0"])
    assert len(hits) == 10 and {rowid for rowid, _ in hits} <= set(allowed.tolist())
    assert corpus.graph.graph.number_of_nodes() > 10
    question = bench_corpus.questions(corpus, 1)[0]
    assert any(entity in question for entity in corpus.entities)
    assert corpus.store.lexical_search(question, 5, ["g0"])  # its words are in the corpus

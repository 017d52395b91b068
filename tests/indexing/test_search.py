"""HybridSearcher with the real embedder: modes, access control, k results, and fusing an extra retriever."""
from __future__ import annotations

import pytest

from indexing.ingest import Ingestor
from indexing.search import HybridSearcher
from indexing.store import IndexStore

pytestmark = pytest.mark.slow

DOCS = {
    "refunds.md": ("# Refunds\n\nRefunds reach the original card within 10 business days.", ["all"]),
    "oncall.md": ("# On-call\n\nThe on-call engineer acknowledges pages within 15 minutes.", ["engineering"]),
    "leave.md": ("# Leave\n\nParental leave is 20 weeks at full pay.", ["all"]),
    "salary.md": ("# Salary\n\nSofia Marchetti's salary rises to 91,000 EUR.", ["hr"]),
}

@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder) -> HybridSearcher:
    root = tmp_path_factory.mktemp("search")
    store = IndexStore(root / "index", dim=embedder.dim)
    ingest = Ingestor(store, embedder)
    for name, (text, groups) in DOCS.items():
        assert ingest.ingest_bytes(name, text.encode(), groups, "internal").action == "added"
    return HybridSearcher(store, embedder, weights={"dense": 1.0, "bm25": 1.0, "graph": 0.5})

@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_when_searching_then_the_matching_chunk_ranks_first_with_its_retrievers(searcher, mode) -> None:
    hits = searcher.search("how many weeks of parental leave", 3, mode=mode)
    assert hits[0].source == "leave.md"
    assert set(hits[0].retrievers) == ({"dense", "bm25"} if mode == "hybrid" else {mode})
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_when_groups_given_then_only_readable_chunks_and_k_of_them_when_they_exist(searcher, mode) -> None:
    hits = searcher.search("salary of Sofia Marchetti", 2, groups=["all"], mode=mode)
    assert len(hits) == 2 and {h.source for h in hits} == {"refunds.md", "leave.md"}
    assert searcher.search("salary of Sofia Marchetti", 1, groups=["hr"], mode=mode)[0].source == "salary.md"
    assert searcher.search("salary", 3, groups=[], mode=mode) == []

def test_when_another_retriever_adds_a_ranked_list_then_fuse_combines_it(searcher) -> None:
    found = searcher.candidates("parental leave", None, 10)
    oncall = searcher.store.lexical_search("pages", 1)[0][0]
    fused = searcher.fuse({**found, "graph": [(oncall, 1.0)]}, 4)
    by_source = {h.source: h for h in fused}
    assert by_source["oncall.md"].retrievers["graph"] == 1
    assert fused[0].source == "leave.md"
    with pytest.raises(ValueError, match="unknown search mode"):
        searcher.search("x", 1, mode="graph")

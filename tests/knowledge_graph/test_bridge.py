"""Bridge expansion (second hop through the entities of the first hop): candidates, scores, paths, ACL."""
from __future__ import annotations

import numpy as np

from indexing.lexical import terms
from indexing.types import Classification
from knowledge_graph.bridge import ChunkText, find_bridges, score_bridges
from knowledge_graph.catalog import EntityCatalog
from knowledge_graph.graph import ChunkMeta, build_graph
from knowledge_graph.tables import EdgeRow, MentionRow

# doc-pm: "p1" names the outage, ACME Payments and the Orion broker (the bridge the question does not name)
# doc-own: "o1" says the Platform Team owns Orion; doc-secret: "s1" (another group) also mentions Orion
# doc-x: "x1" mentions Orion too but shares no unanswered question term; doc-y: "y1" is unrelated
CHUNKS = {"p1": "doc-pm", "p2": "doc-pm", "o1": "doc-own", "s1": "doc-secret", "x1": "doc-x", "y1": "doc-y"}
TEXTS = {
    "p1": "The card outage in March was caused by a full disk on the Orion broker used by ACME Payments.",
    "p2": "Orion was restarted after the outage.",
    "o1": "Orion is owned by the Platform Team.",
    "s1": "Orion is owned by the Platform Team, per the restricted review.",
    "x1": "Orion metrics dashboards.",
    "y1": "Holiday calendar.",
}
QUESTION = "Which team owns the system whose full disk caused the March card outage?"


def _graph():
    mentions = [("p1", "orion", "SYSTEM"), ("p1", "acme payments", "PRODUCT"), ("p2", "orion", "SYSTEM"),
                ("o1", "orion", "SYSTEM"), ("o1", "platform team", "TEAM"), ("s1", "orion", "SYSTEM"),
                ("s1", "platform team", "TEAM"), ("x1", "orion", "SYSTEM")]
    edges = [("acme payments", "orion", "co_occurs", "p1"), ("platform team", "orion", "own", "o1"),
             ("platform team", "orion", "own", "s1")]
    metas = {c: ChunkMeta(c, d, f"{d}.md", Classification.INTERNAL) for c, d in CHUNKS.items()}
    return build_graph([MentionRow(c, CHUNKS[c], k, k.title(), t, "catalog", 1) for c, k, t in mentions],
                       [EdgeRow(*e) for e in edges], metas, EntityCatalog.from_yaml())


def _texts(query_vector: np.ndarray) -> dict[str, ChunkText]:
    # every chunk equally similar to the question: the lexical part and the graph decide
    return {c: ChunkText(terms(t), query_vector.copy()) for c, t in TEXTS.items()}


VECTOR = np.array([1.0, 0.0], dtype=np.float32)
ALL = set(CHUNKS)


def test_when_first_hop_names_a_bridge_then_chunks_of_other_documents_are_candidates():
    bridges = find_bridges(_graph(), ["p1"], ALL, CHUNKS)
    assert {b.chunk_id for b in bridges} == {"o1", "s1", "x1"}  # p2: same document as the first hop
    assert {b.key for b in bridges} == {"orion"}  # acme payments is in no other document
    assert all(b.via == "p1" and b.rank == 1 and 0 < b.specificity < 1 for b in bridges)


def test_when_reader_lacks_a_group_then_its_chunks_are_never_first_hop_bridge_or_candidate():
    allowed = ALL - {"s1"}
    assert "s1" not in {b.chunk_id for b in find_bridges(_graph(), ["p1"], allowed, CHUNKS)}
    assert find_bridges(_graph(), ["p1"], allowed - {"p1"}, CHUNKS) == []  # a hidden first hop leads nowhere
    hits = score_bridges(_graph(), find_bridges(_graph(), ["p1"], allowed, CHUNKS), _texts(VECTOR), VECTOR,
                         terms(QUESTION), k=10)
    assert {h.chunk_id for h in hits} <= allowed


def test_when_question_names_the_entity_then_it_is_no_bridge():
    assert find_bridges(_graph(), ["p1"], ALL, CHUNKS, exclude={"orion"}) == []


def test_when_candidate_adds_no_unanswered_question_term_then_it_is_dropped_and_the_answering_one_wins():
    graph = _graph()
    hits = score_bridges(graph, find_bridges(graph, ["p1"], ALL - {"s1"}, CHUNKS), _texts(VECTOR), VECTOR,
                         terms(QUESTION), k=10)
    assert [h.chunk_id for h in hits] == ["o1"]  # x1 ("metrics dashboards") answers nothing still open
    assert hits[0].paths == [["ACME Payments", "Orion", "Platform Team"]]
    assert hits[0].score > 0


def test_when_scoring_twice_in_another_order_then_results_are_identical():
    graph = _graph()
    bridges = find_bridges(graph, ["p1", "x1"], ALL, CHUNKS)
    first = score_bridges(graph, bridges, _texts(VECTOR), VECTOR, terms(QUESTION), k=10)
    second = score_bridges(graph, list(reversed(bridges)), _texts(VECTOR), VECTOR, terms(QUESTION), k=10)
    assert [(h.chunk_id, h.score, h.paths) for h in first] == [(h.chunk_id, h.score, h.paths) for h in second]


def test_when_entity_is_in_every_document_then_it_bridges_nothing():
    chunks = {"a": "d1", "b": "d2"}
    metas = {c: ChunkMeta(c, d, f"{d}.md", Classification.INTERNAL) for c, d in chunks.items()}
    graph = build_graph([MentionRow(c, d, "acme corp", "Acme Corp", "ORG", "catalog", 1) for c, d in chunks.items()],
                        [], metas, EntityCatalog.from_yaml())
    bridges = find_bridges(graph, ["a"], set(chunks), chunks)
    assert [b.specificity for b in bridges] == [0.0]
    texts = {c: ChunkText(frozenset({"acme", "team"}), VECTOR) for c in chunks}
    assert score_bridges(graph, bridges, texts, VECTOR, frozenset({"team", "own"}), k=5) == []

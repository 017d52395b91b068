"""Graph retrieval: paths, hops, limits, determinism and access control."""
from __future__ import annotations

import networkx as nx
import pytest

from knowledge_graph.catalog import EntityCatalog
from knowledge_graph.graph import ChunkMeta, build_graph
from knowledge_graph.retrieve import expand, link_by_tokens
from knowledge_graph.tables import EdgeRow, MentionRow
from indexing.types import Classification


def _graph() -> nx.MultiDiGraph:
    """acme payments -(c1)- orion -own(c2)- platform team -lead(c3)- tomasz ; platform team -(c4, group B)- secret"""
    mentions = [
        ("c1", "acme payments", "PRODUCT"), ("c1", "orion", "SYSTEM"),
        ("c2", "orion", "SYSTEM"), ("c2", "platform team", "TEAM"),
        ("c3", "platform team", "TEAM"), ("c3", "tomasz kowalczyk", "PERSON"),
        ("c4", "platform team", "TEAM"), ("c4", "project nightjar", "PROJECT"),
        ("c5", "atlas", "SYSTEM"),
    ]
    edges = [("acme payments", "orion", "co_occurs", "c1"), ("platform team", "orion", "own", "c2"),
             ("orion", "platform team", "co_occurs", "c2"), ("tomasz kowalczyk", "platform team", "lead", "c3"),
             ("platform team", "project nightjar", "co_occurs", "c4")]
    labels = {"c3": Classification.CONFIDENTIAL, "c4": Classification.RESTRICTED}
    metas = {c: ChunkMeta(c, f"doc-{c}", f"{c}.md", labels.get(c, Classification.INTERNAL))
             for c in ("c1", "c2", "c3", "c4", "c5")}
    return build_graph([MentionRow(c, f"doc-{c}", k, k.title(), t, "catalog", 1) for c, k, t in mentions],
                       [EdgeRow(*e) for e in edges], metas, EntityCatalog.from_yaml())


ALL = {"c1", "c2", "c3", "c4", "c5"}


def test_when_query_entity_is_two_hops_from_a_chunk_then_path_reaches_it():
    hits = {h.chunk_id: h for h in expand(_graph(), {"acme payments": 1.0}, ALL, hops=2)}
    assert {"c1", "c2"} <= set(hits)
    assert ["ACME Payments", "Orion", "Platform Team"] in hits["c2"].paths
    assert hits["c1"].score > hits["c2"].score  # nearer evidence scores higher
    assert "c5" not in hits  # unconnected


@pytest.mark.parametrize("hops, reachable, unreachable", [
    (0, {"c1"}, {"c2", "c3"}),
    (1, {"c1", "c2"}, {"c3"}),
    (2, {"c1", "c2", "c3"}, set()),
])
def test_when_hops_are_limited_then_farther_chunks_are_not_returned(hops, reachable, unreachable):
    found = {h.chunk_id for h in expand(_graph(), {"acme payments": 1.0}, ALL, hops=hops)}
    assert reachable <= found and not unreachable & found


def test_when_chunk_is_outside_users_groups_then_graph_never_returns_or_walks_through_it():
    allowed = {"c1", "c2", "c3", "c5"}  # c4 (the only chunk linking to project nightjar) is group B's
    hits = expand(_graph(), {"orion": 1.0}, allowed, hops=3)
    assert {h.chunk_id for h in hits} <= allowed
    assert not any("Project Nightjar" in path for h in hits for path in h.paths)
    # and an entity known only from disallowed chunks cannot even be a starting point
    assert expand(_graph(), {"project nightjar": 1.0}, allowed, hops=2) == []


def test_when_edge_is_disallowed_then_walk_stops_there_even_if_farther_chunks_are_allowed():
    allowed = {"c1", "c3"}  # c2 (orion - platform team) is not allowed: tomasz's chunk c3 is unreachable
    found = {h.chunk_id for h in expand(_graph(), {"acme payments": 1.0}, allowed, hops=3)}
    assert found == {"c1"}


def test_when_max_neighbours_is_one_then_only_the_strongest_edge_is_followed():
    graph = _graph()

    def reached(max_neighbours: int) -> set[str]:
        hits = expand(graph, {"platform team": 1.0}, ALL, hops=1, max_neighbours=max_neighbours)
        return {path[-1] for h in hits for path in h.paths if len(path) > 1}

    assert reached(1) == {"Orion"}  # own (1.0) ties lead (1.0): the key breaks the tie; co_occurs (0.6) loses
    assert reached(25) == {"Orion", "Tomasz Kowalczyk", "Project Nightjar"}


def test_when_expanding_twice_then_results_are_identical():
    graph = _graph()
    first = expand(graph, {"acme payments": 1.0, "orion": 0.5}, ALL, hops=2)
    second = expand(graph, {"orion": 0.5, "acme payments": 1.0}, set(ALL), hops=2)
    assert [(h.chunk_id, h.score, h.paths) for h in first] == [(h.chunk_id, h.score, h.paths) for h in second]


def test_when_question_uses_relation_verb_or_type_then_matching_edge_ranks_first():
    graph = _graph()
    plain = expand(graph, {"platform team": 1.0}, ALL, hops=1)
    asked = expand(graph, {"platform team": 1.0}, ALL, hops=1, terms={"lead"}, types={"PERSON"})
    score = lambda hits, cid: next(h.score for h in hits if h.chunk_id == cid)  # noqa: E731
    assert score(asked, "c3") > score(plain, "c3")
    assert asked[0].chunk_id == "c3"


def test_when_path_crosses_a_person_then_hit_carries_the_persons_label():
    hits = {h.chunk_id: h for h in expand(_graph(), {"platform team": 1.0}, ALL, hops=1)}
    assert hits["c3"].label == Classification.CONFIDENTIAL  # sensitive node: max label of its chunks
    graph = _graph()
    assert graph.nodes["platform team"]["label"] == int(Classification.INTERNAL)  # others: least sensitive


@pytest.mark.parametrize("query, key, score", [
    ("who owns orion", "orion", 1.0),
    ("What does the Platform Team own?", "platform team", 1.0),
    ("which team owns the message queue", "orion", pytest.approx(1 / 3)),  # partial alias "orion message queue"
])
def test_when_query_mentions_a_node_then_token_linking_finds_it(query, key, score):
    aliases = {"orion message queue": "orion"}
    assert link_by_tokens(_graph(), query, aliases).get(key) == score


def test_when_name_tokens_are_apart_then_link_is_weak():
    scores = link_by_tokens(_graph(), "the team that runs payments for acme")
    assert scores.get("acme payments", 0) < 1.0


# --- through the real store and its groups ---------------------------------------------------------------
ENG_DOC = b"# Ownership\n\nThe Platform Team owns Orion.\n"
HR_DOC = b"# Team leads\n\nTomasz Kowalczyk leads the Platform Team. His salary band is P5.\n"
PUBLIC_DOC = b"# Products\n\nACME Payments publishes payment events to Orion.\n"


@pytest.mark.slow
def test_when_user_lacks_group_then_graph_search_never_returns_its_chunk_even_via_shared_entity(kg_env):
    store, kg, ingestor = kg_env
    ingestor.ingest_bytes("ownership.md", ENG_DOC, groups=["engineering"])
    ingestor.ingest_bytes("leads.md", HR_DOC, groups=["hr"])
    ingestor.ingest_bytes("products.md", PUBLIC_DOC, groups=["all"])
    hr_chunks = {c.chunk_id for c in store.document_chunks(store.get_document("leads.md").doc_id)}

    admin = kg.search("Who leads the team that owns the queue ACME Payments uses?", groups=None, k=10, hops=3)
    assert hr_chunks & {h.chunk_id for h in admin}  # reachable in principle, through "platform team"

    for groups in (["engineering", "all"], ["all"], []):
        hits = kg.search("Who leads the team that owns the queue ACME Payments uses?", groups=groups, k=10, hops=3)
        assert not hr_chunks & {h.chunk_id for h in hits}
        assert not any("Tomasz Kowalczyk" in path for h in hits for path in h.paths)
        allowed = kg.allowed_chunk_ids(groups)
        assert {h.chunk_id for h in hits} <= allowed

    hr_hits = kg.search("Who leads the Platform Team?", groups=["hr"], k=5)
    assert hr_hits and hr_hits[0].chunk_id in hr_chunks
    assert hr_hits[0].label >= Classification.INTERNAL


@pytest.mark.slow
def test_when_searching_then_hits_carry_paths_from_query_entities(kg_env):
    _, kg, ingestor = kg_env
    ingestor.ingest_bytes("ownership.md", ENG_DOC, groups=["engineering"])
    ingestor.ingest_bytes("products.md", PUBLIC_DOC, groups=["engineering"])
    hits = kg.search("Which team owns the queue that ACME Payments publishes to?", groups=["engineering"], k=5)
    ownership = kg.store.document_chunks(kg.store.get_document("ownership.md").doc_id)[0].chunk_id
    hit = next(h for h in hits if h.chunk_id == ownership)
    assert ["ACME Payments", "Orion", "Platform Team"] in hit.paths
    assert kg.search("Tell me a joke", groups=["engineering"], k=5) == []

"""The graph follows the index: updates replace, deletes remove edges and orphan nodes, batches rebuild once,
crashes roll back, and another process's view reloads when stale."""
from __future__ import annotations

import sqlite3

import pytest

from knowledge_graph.graph import load_graph
from knowledge_graph.store import KnowledgeGraph

pytestmark = pytest.mark.slow

OWNERSHIP_V1 = b"# Ownership\n\nThe Platform Team owns Orion. Beacon monitors Orion.\n"
OWNERSHIP_V2 = b"# Ownership\n\nThe Security Team owns Vault-7.\n"
ARCHITECTURE = b"# Architecture\n\nLedger Sync consumes events from Orion and reads Atlas.\n"


def _relations(graph) -> set[tuple[str, str, str]]:
    return {(u, k, v) for u, v, k in graph.edges(keys=True)}


def test_when_document_is_added_changed_and_deleted_then_graph_follows(kg_env):
    store, kg, ingestor = kg_env
    ingestor.ingest_bytes("ownership.md", OWNERSHIP_V1, groups=["eng"])
    assert ("platform team", "own", "orion") in _relations(kg.graph)
    assert {"platform team", "orion", "beacon"} <= set(kg.graph.nodes)

    ingestor.ingest_bytes("ownership.md", OWNERSHIP_V2, groups=["eng"])
    graph = kg.graph
    assert ("security team", "own", "vault-7") in _relations(graph)
    assert ("platform team", "own", "orion") not in _relations(graph)
    assert not {"platform team", "orion", "beacon"} & set(graph.nodes)  # orphans are gone

    assert ingestor.delete("ownership.md")
    assert kg.graph.number_of_nodes() == 0 and kg.graph.number_of_edges() == 0
    conn = sqlite3.connect(store.index_dir / "index.sqlite3")
    assert conn.execute("SELECT count(*) FROM kg_mentions").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM kg_edges").fetchone()[0] == 0


def test_when_shared_entity_loses_one_document_then_it_keeps_the_other(kg_env):
    _, kg, ingestor = kg_env
    ingestor.ingest_bytes("ownership.md", OWNERSHIP_V1, groups=["eng"])
    ingestor.ingest_bytes("architecture.md", ARCHITECTURE, groups=["eng"])
    ingestor.delete("ownership.md")
    graph = kg.graph
    assert "orion" in graph and "platform team" not in graph
    assert graph.nodes["orion"]["docs"] == [ingestor.store.get_document("architecture.md").doc_id]
    assert all(c in graph.nodes["orion"]["chunks"] for c in graph.edges["ledger sync", "orion", "co_occurs"]["chunks"])


def test_when_many_documents_are_deleted_in_one_batch_then_graph_rebuilds_once(kg_env):
    _, kg, ingestor = kg_env
    for i in range(5):
        ingestor.ingest_bytes(f"doc{i}.md", OWNERSHIP_V1 + f"\nDocument {i} mentions Atlas.\n".encode(), groups=["eng"])
    commits, rebuilds = kg.commits, kg.rebuild_count
    deleted = ingestor.delete_many([f"doc{i}.md" for i in range(5)])
    assert len(deleted) == 5
    assert kg.commits - commits == 1
    assert kg.rebuild_count - rebuilds == 1
    assert kg.graph.number_of_nodes() == 0
    assert kg.rebuild_count - rebuilds == 1  # reading after the batch reuses the committed graph


def test_when_folder_is_ingested_then_graph_rebuilds_once_per_batch(kg_env, tmp_path):
    _, kg, ingestor = kg_env
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(4):
        (folder / f"d{i}.md").write_bytes(ARCHITECTURE + f"\nNote {i}.\n".encode())
    rebuilds = kg.rebuild_count
    ingestor.ingest_paths([folder], groups=["eng"])
    assert kg.rebuild_count - rebuilds == 1
    assert len(kg.graph.nodes["orion"]["docs"]) == 4


def test_when_graph_write_fails_then_document_and_graph_keep_previous_state(kg_env, monkeypatch):
    store, kg, ingestor = kg_env
    ingestor.ingest_bytes("ownership.md", OWNERSHIP_V1, groups=["eng"])
    before = _relations(kg.graph)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash inside the transaction")

    monkeypatch.setattr(kg, "write", crash)
    with pytest.raises(RuntimeError):
        ingestor.ingest_bytes("ownership.md", OWNERSHIP_V2, groups=["eng"])
    monkeypatch.undo()
    assert store.get_document("ownership.md").version == 1
    assert _relations(kg.graph) == before


def test_when_graph_is_saved_then_another_instance_loads_it_and_reloads_when_stale(kg_env, nlp):
    store, kg, ingestor = kg_env
    ingestor.ingest_bytes("ownership.md", OWNERSHIP_V1, groups=["eng"])
    saved = load_graph(kg.graph_path)
    assert saved is not None and list(saved[1]) == [store.generation(), 1]

    reader = KnowledgeGraph(store, nlp=None)  # e.g. the API process, which did not ingest
    assert ("platform team", "own", "orion") in _relations(reader.graph)
    assert reader.rebuild_count == 0  # loaded from graph.json, not rebuilt

    ingestor.ingest_bytes("architecture.md", ARCHITECTURE, groups=["eng"])
    assert "ledger sync" in reader.graph  # generation moved on: reloaded
    reader.close()


def test_when_index_was_built_without_graph_then_backfill_extracts_missing_chunks(tmp_path, nlp, tiny_embedder):
    from indexing.ingest import Ingestor
    from indexing.store import IndexStore

    store = IndexStore(tmp_path / "index", dim=16)
    Ingestor(store, tiny_embedder).ingest_bytes("ownership.md", OWNERSHIP_V1, groups=["eng"])
    kg = KnowledgeGraph(store, nlp=nlp)
    assert kg.graph.number_of_nodes() == 0
    assert kg.backfill() == 1
    assert ("platform team", "own", "orion") in _relations(kg.graph)
    assert kg.backfill() == 0
    kg.close()
    store.close()

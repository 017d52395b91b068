"""`rag graph` commands against a real index in a temporary RAG_HOME."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from indexing.ingest import Ingestor
from indexing.store import IndexStore
from knowledge_graph.store import KnowledgeGraph
from rag.cli import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path, nlp, tiny_embedder, monkeypatch):
    """A RAG_HOME whose index (built with the runtime's dimension, 384) holds two small documents."""
    store = IndexStore(tmp_path / "index", dim=384)
    tiny_embedder._dim = 384
    kg = KnowledgeGraph(store, nlp=nlp)
    ingestor = Ingestor(store, tiny_embedder, listeners=[kg])
    ingestor.ingest_bytes("ownership.md", b"# Ownership\n\nThe Platform Team owns Orion. Beacon monitors Orion.\n",
                          groups=["engineering"])
    ingestor.ingest_bytes("people.md", b"# People\n\nTomasz Kowalczyk leads the Platform Team.\n", groups=["hr"])
    kg.close()
    store.close()
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    return tmp_path


def test_when_stats_json_then_counts_nodes_edges_types_and_documents(home):
    result = CliRunner().invoke(cli, ["graph", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["nodes"] == 4 and stats["docs_covered"] == 2 == stats["documents"]
    assert stats["nodes_by_type"] == {"PERSON": 1, "SYSTEM": 2, "TEAM": 1}
    assert stats["relation_edges"] >= 3


def test_when_entity_is_asked_by_alias_then_neighbours_list_supporting_sources(home):
    result = CliRunner().invoke(cli, ["graph", "entity", "platform engineering", "--json"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["name"] == "Platform Team"
    by_neighbour = {(e["neighbour"], e["relation"], e["direction"]): e for e in view["neighbours"]}
    assert by_neighbour[("Orion", "own", "out")]["sources"] == ["ownership.md"]
    assert by_neighbour[("Tomasz Kowalczyk", "lead", "in")]["sources"] == ["people.md"]


def test_when_entity_is_unknown_then_exit_code_is_one_with_a_hint(home):
    result = CliRunner().invoke(cli, ["graph", "entity", "Nonexistent Thing"])
    assert result.exit_code == 1
    assert "rag graph stats" in result.output


@pytest.mark.parametrize("fmt, marker", [("graphml", "<graphml"), ("json", '"links"')])
def test_when_exporting_then_file_holds_the_graph(home, tmp_path, fmt, marker):
    out = tmp_path / f"graph.{fmt}"
    result = CliRunner().invoke(cli, ["graph", "export", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert marker in text and "platform team" in text

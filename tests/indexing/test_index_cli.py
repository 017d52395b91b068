"""`rag ingest`, `rag docs ...` and `rag search` through click, on a real index in tmp_path (detection and
graph switched off with RAG_INGEST_DETECT=0 / RAG_INGEST_GRAPH=0)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexing.ingest import doc_id_for
from rag.cli import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def rag(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_INGEST_DETECT", "0")
    monkeypatch.setenv("RAG_INGEST_GRAPH", "0")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "public").mkdir(parents=True)
    (root / "hr").mkdir()
    (root / "public" / "returns.md").write_text("# Returns\n\nRefunds reach your card within 10 business days.\n")
    (root / "hr" / "salary.md").write_text("# Salary review\n\nSofia's salary rises to 91,000 EUR next year.\n")
    (root / "manifest.yaml").write_text("rules:\n  - {glob: 'hr/**', groups: [hr], classification: confidential}\n"
                                        "defaults: {groups: [all], classification: public}\n")
    return root


def test_when_a_file_is_refused_then_the_rest_goes_in_refusal_on_stderr_and_exit_1(rag, corpus) -> None:
    (corpus / "public" / "broken.pdf").write_bytes(b"not a pdf at all")
    result = rag("ingest", corpus)
    assert result.exit_code == 1
    assert "added     public/returns.md" in result.stdout and "added     hr/salary.md" in result.stdout
    assert "refused:" in result.stderr and "broken.pdf" in result.stderr and "not a PDF" in result.stderr
    again = rag("ingest", corpus / "public" / "returns.md", "--json")
    report = json.loads(again.stdout)
    assert again.exit_code == 0 and report["counts"]["added"] == 1
    assert report["results"][0]["source"] == (corpus / "public" / "returns.md").resolve().as_posix()


def test_when_two_files_share_a_name_then_each_keeps_its_own_document(rag, tmp_path) -> None:
    """A file argument's source is its path, not its base name: the second file never replaces the first."""
    for team, text in (("team-a", "Team A meets in Lisbon."), ("team-b", "Team B meets in Oslo.")):
        (tmp_path / team).mkdir()
        (tmp_path / team / "handbook.md").write_text(f"# Handbook\n\n{text}\n")
    assert rag("ingest", tmp_path / "team-a" / "handbook.md", "--groups", "team-a").exit_code == 0
    result = json.loads(rag("ingest", tmp_path / "team-b" / "handbook.md", "--groups", "team-b", "--json").stdout)
    assert result["counts"]["added"] == 1
    docs = json.loads(rag("docs", "list", "--json").stdout)
    assert sorted(tuple(d["groups"]) for d in docs) == [("team-a",), ("team-b",)]
    assert len({d["doc_id"] for d in docs}) == 2


def test_when_folders_share_relative_paths_then_collections_keep_them_apart(rag, tmp_path) -> None:
    for team in ("team-a", "team-b"):
        (tmp_path / team / "hr").mkdir(parents=True)
        (tmp_path / team / "hr" / "leave.md").write_text(f"# Leave\n\n{team} leave rules.\n")
        assert rag("ingest", tmp_path / team, "--groups", team, "--collection", team).exit_code == 0
    docs = json.loads(rag("docs", "list", "--json").stdout)
    assert sorted((d["source"], tuple(d["groups"])) for d in docs) == [("team-a/hr/leave.md", ("team-a",)),
                                                                       ("team-b/hr/leave.md", ("team-b",))]
    assert {d["doc_id"] for d in docs} == {doc_id_for("team-a/hr/leave.md"), doc_id_for("team-b/hr/leave.md")}
    bad = rag("ingest", tmp_path / "team-a", "--collection", "../x")
    assert bad.exit_code == 2 and "--collection" in bad.stderr


@pytest.mark.parametrize("args, words", [
    (["--classification", "secret"], "unknown classification 'secret'"),
    (["--groups", " , "], "at least one group"),
    (["--groups", "hr finance!"], "bad group name"),
])
def test_when_ingest_arguments_are_bad_then_exit_2_with_a_clear_message(rag, corpus, args, words) -> None:
    result = rag("ingest", corpus, *args)
    assert result.exit_code == 2 and words in result.stderr


def test_when_ingest_path_is_missing_then_exit_2(rag, tmp_path) -> None:
    result = rag("ingest", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_docs_list_show_delete(rag, corpus) -> None:
    assert rag("ingest", corpus).exit_code == 0
    docs = json.loads(rag("docs", "list", "--json").stdout)
    assert {(d["source"], tuple(d["groups"]), d["declared"]) for d in docs} == {
        ("hr/salary.md", ("hr",), "confidential"), ("public/returns.md", ("all",), "public")}
    shown = json.loads(rag("docs", "show", "hr/salary.md", "--json").stdout)
    assert shown["doc_id"] == doc_id_for("hr/salary.md") and "91,000 EUR" in shown["chunks"][0]["text"]
    assert rag("docs", "show", doc_id_for("hr/salary.md")).exit_code == 0
    deleted = rag("docs", "delete", "hr/salary.md")
    assert deleted.exit_code == 0 and doc_id_for("hr/salary.md") in deleted.stdout
    missing = rag("docs", "delete", "hr/salary.md")
    assert missing.exit_code == 1 and "no document" in missing.stderr
    assert json.loads(rag("docs", "stats", "--json").stdout)["documents"] == 1


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_search_filters_by_groups_and_reports_provenance(rag, corpus, mode) -> None:
    assert rag("ingest", corpus).exit_code == 0
    hr = json.loads(rag("search", "salary Sofia", "--groups", "all,hr", "--mode", mode, "-k", "5", "--json").stdout)
    expected = {"dense", "bm25"} if mode == "hybrid" else {mode}
    assert hr[0]["source"] == "hr/salary.md" and hr[0]["rank"] == 1 and set(hr[0]["retrievers"]) == expected
    staff = json.loads(rag("search", "salary Sofia", "--mode", mode, "--json").stdout)  # default: group all
    assert all(hit["source"] != "hr/salary.md" for hit in staff)
    text = rag("search", "refund card", "--groups", "all,sales", "--mode", mode)
    assert text.exit_code == 0 and "public/returns.md" in text.stdout and "chunk " in text.stdout


def test_when_search_mode_is_not_given_then_rag_search_mode_decides(rag, corpus, monkeypatch) -> None:
    assert rag("ingest", corpus).exit_code == 0
    monkeypatch.setenv("RAG_SEARCH_MODE", "bm25")
    hits = json.loads(rag("search", "refund card", "--json").stdout)
    assert hits and all(set(hit["retrievers"]) == {"bm25"} for hit in hits)


@pytest.mark.parametrize("args, words", [
    (["--user", "ghost"], "no user named 'ghost'"),
    (["--user", "ghost", "--groups", "all"], "either --user or --groups"),
])
def test_when_search_reader_is_bad_then_exit_2(rag, corpus, args, words) -> None:
    result = rag("search", "refund", *args)
    assert result.exit_code == 2 and words in result.stderr


def test_when_labels_are_stale_then_status_counts_them_and_relabel_brings_them_up_to_date(rag, corpus) -> None:
    assert rag("ingest", corpus).exit_code == 0  # detection off: no label carries the current stamp
    status = json.loads(rag("index", "status", "--json").stdout)
    assert status["stale_labels"] == status["chunks"] >= 2

    relabel = rag("index", "relabel", "--batch", "1", "--json")

    assert relabel.exit_code == 0, relabel.output
    assert json.loads(relabel.stdout) == {"relabelled": status["chunks"], "stale_labels": 0,
                                          "label_stamp": status["label_stamp"]}
    after = json.loads(rag("index", "status", "--json").stdout)
    assert after["stale_labels"] == 0 and after["labels"]["confidential"] == 1  # the declared level is kept

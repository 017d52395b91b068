"""Dataset loaders: native JSONL sets, routing prompts, SQuAD 2.0, BEIR folders; sampling."""
import json
from pathlib import Path

import pytest

from evals import datasets as ds
from rag.config import REPO_ROOT

SQUAD = REPO_ROOT.parent / "shared" / "datasets" / "squad-v2-dev-5-articles.json"
DATA = REPO_ROOT / "data"


def _write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "public").mkdir(parents=True)
    (folder / "public" / "returns.md").write_text("# Returns\n\nItems may be returned within **30 days**.\n")
    (folder / "public" / "about.html").write_text("<html><body><p>Acme was founded in <b>2011</b>.</p></body></html>")
    return folder


def test_when_native_set_loaded_then_targets_answers_and_groups_are_kept(tmp_path, corpus):
    path = _write_jsonl(tmp_path / "retrieval.jsonl", [
        {"id": "r1", "question": "Return window?", "answer": "30 days",
         "relevant": [{"doc": "public/returns.md", "evidence": "returned within 30 days"}], "groups": ["all"]},
        {"id": "m1", "question": "Founded when, returns?", "answer": "2011; 30 days", "bridge": "Acme",
         "relevant": [{"doc": "public/about.html", "evidence": "founded in 2011"},
                      {"doc": "public/returns.md", "evidence": "returned within 30 days"}], "groups": ["hr", "all"]},
    ])
    data = ds.load_native(path, corpus)
    assert data.name == "retrieval" and data.corpus_dir == corpus
    first, second = data.queries
    assert first.targets[0].doc == "public/returns.md" and first.answers == ("30 days",)
    assert [t.key for t in second.targets] == ["m1#0", "m1#1"]
    assert second.groups == ("hr", "all") and second.bridge == "Acme" and second.answerable
    assert ds.check_native(data) == []  # evidence found despite markdown bold and HTML tags


def test_when_evidence_or_document_is_wrong_then_check_native_names_the_query(tmp_path, corpus):
    path = _write_jsonl(tmp_path / "bad.jsonl", [
        {"id": "x1", "question": "q", "relevant": [{"doc": "public/returns.md", "evidence": "within 90 days"}]},
        {"id": "x2", "question": "q", "relevant": [{"doc": "public/missing.md", "evidence": "anything"}]},
    ])
    problems = ds.check_native(ds.load_native(path, corpus))
    assert len(problems) == 2 and problems[0].startswith("x1: evidence") and problems[1].startswith("x2: document")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "question": "q"\n', "not valid JSON"),
        ('{"question": "q"}\n', "missing field 'id'"),
        ('{"id": "a", "question": "q", "relevant": ["x"]}\n', r"relevant\[0\]"),
        ("\n", "no queries"),
    ],
)
def test_when_native_line_is_malformed_then_error_names_file_and_problem(tmp_path, corpus, content, message):
    path = tmp_path / "broken.jsonl"
    path.write_text(content)
    with pytest.raises(ds.DatasetError, match=message):
        ds.load_native(path, corpus)


def test_when_dataset_or_corpus_missing_then_dataset_error(tmp_path, corpus):
    with pytest.raises(ds.DatasetError, match="not found"):
        ds.load_native(tmp_path / "nope.jsonl", corpus)
    with pytest.raises(ds.DatasetError, match="corpus folder not found"):
        ds.load_native(tmp_path / "nope.jsonl", tmp_path / "no-corpus")
    with pytest.raises(ds.DatasetError, match="unknown dataset format"):
        ds.load_dataset(tmp_path, "msmarco")


def test_when_routing_prompts_loaded_then_labels_parse_and_ids_are_unique(tmp_path):
    a = _write_jsonl(tmp_path / "prompts.jsonl", [
        {"id": "p1", "text": "SSN of Jane?", "sensitive": True, "expected_route": "local", "category": "ssn"},
        {"id": "p2", "text": "Office hours?", "sensitive": "false", "expected_route": "server", "category": "benign",
         "notes": "kept"},
    ])
    prompts = ds.load_routing([a])
    assert [(p.id, p.sensitive, p.expected_route) for p in prompts] == [("p1", True, "local"), ("p2", False, "server")]
    assert prompts[1].extra == {"notes": "kept"}
    b = _write_jsonl(tmp_path / "generated.jsonl", [{"id": "p1", "text": "x", "sensitive": False}])
    with pytest.raises(ds.DatasetError, match="duplicate prompt id"):
        ds.load_routing([a, b])
    c = _write_jsonl(tmp_path / "odd.jsonl", [{"id": "z", "text": "x", "sensitive": "maybe"}])
    with pytest.raises(ds.DatasetError, match="'sensitive' must be"):
        ds.load_routing([c])


def _squad_fixture(tmp_path: Path) -> Path:
    data = {"version": "v2.0", "data": [{"title": "Tiny Town", "paragraphs": [
        {"context": "Tiny Town was founded in 1850 by millers.", "qas": [
            {"id": "q1", "question": "When was Tiny Town founded?", "is_impossible": False,
             "answers": [{"text": "1850", "answer_start": 25}, {"text": "1850", "answer_start": 25}]},
            {"id": "q2", "question": "Who closed the mill?", "is_impossible": True, "answers": [],
             "plausible_answers": [{"text": "millers", "answer_start": 34}]},
        ]},
        {"context": "The river floods every spring.", "qas": []},
    ]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return path


def test_when_squad_loaded_then_paragraphs_are_documents_and_impossible_questions_unanswerable(tmp_path):
    data = ds.load_squad(_squad_fixture(tmp_path))
    assert [d.source for d in data.documents] == ["squad/Tiny_Town/p000.txt", "squad/Tiny_Town/p001.txt"]
    q1, q2 = data.queries
    assert q1.answerable and q1.answers == ("1850",) and q1.targets[0].doc == "squad/Tiny_Town/p000.txt"
    assert not q2.answerable and q2.targets == ()


def test_when_shared_squad_file_loaded_then_counts_match_its_description():
    if not SQUAD.is_file():
        pytest.skip(f"{SQUAD} not present")
    data = ds.load_squad(SQUAD)
    assert len(data.documents) == 173 and len(data.queries) == 1407
    assert sum(q.answerable for q in data.queries) == 705
    assert len({d.source for d in data.documents}) == 173


def test_when_file_is_not_squad_then_dataset_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"rows": []}')
    with pytest.raises(ds.DatasetError, match="not a SQuAD 2.0"):
        ds.load_squad(path)


def _beir_fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "tinybeir"
    _write_jsonl(folder / "corpus.jsonl", [
        {"_id": "d1", "title": "Vitamin C", "text": "Vitamin C reduces cold duration."},
        {"_id": "d2", "title": "", "text": "Zinc lozenges and colds."},
        {"_id": "d/3", "title": "Sleep", "text": "Sleep affects immunity."},
    ])
    _write_jsonl(folder / "queries.jsonl", [
        {"_id": "q1", "text": "does vitamin c help colds"},
        {"_id": "q2", "text": "sleep and immune system"},
        {"_id": "q3", "text": "unjudged query"},
    ])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq2\td/3\t1\nq2\td1\t0\n")
    return folder


def test_when_beir_folder_loaded_then_graded_qrels_become_document_targets(tmp_path):
    data = ds.load_beir(_beir_fixture(tmp_path))
    assert data.name == "beir-tinybeir" and len(data.documents) == 3
    assert data.documents[0].text.startswith("Vitamin C\n\n")
    by_id = {q.id: q for q in data.queries}
    assert set(by_id) == {"q1", "q2"}  # q3 has no judgement
    assert {(t.doc, t.gain) for t in by_id["q1"].targets} == {("beir/d1.txt", 2), ("beir/d2.txt", 1)}
    assert [t.doc for t in by_id["q2"].targets] == ["beir/d_3.txt"]  # score 0 dropped, id made path-safe
    assert ds.load_dataset(_beir_fixture(tmp_path / "again"), "beir").queries == data.queries


def test_when_beir_split_missing_or_unknown_document_then_dataset_error(tmp_path):
    folder = _beir_fixture(tmp_path)
    with pytest.raises(ds.DatasetError, match="qrels file not found"):
        ds.load_beir(folder, split="dev")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tnope\t1\n")
    with pytest.raises(ds.DatasetError, match="missing from corpus"):
        ds.load_beir(folder)


def test_when_sampling_with_same_seed_then_same_items_in_original_order():
    items = list(range(100))
    first, again = ds.sample(items, 10, seed=7), ds.sample(items, 10, seed=7)
    assert first == again == sorted(first) and len(set(first)) == 10
    assert ds.sample(items, 10, seed=8) != first
    assert ds.sample(items, None) == items and ds.sample(items, 500) == items


def test_when_balanced_sample_drawn_then_half_are_unanswerable():
    queries = [ds.EvalQuery(str(i), "q", (), answerable=i % 3 == 0) for i in range(60)]
    picked = ds.sample_balanced(queries, 10)
    assert len(picked) == 10 and sum(not q.answerable for q in picked) == 5


@pytest.mark.parametrize("name", ["retrieval", "multihop"])
def test_when_project_eval_set_present_then_it_loads_and_evidence_is_found(name):
    path = DATA / "evals" / f"{name}.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not written yet")
    data = ds.load_native(path, DATA / "corpus")
    assert data.queries and all(q.targets for q in data.queries)
    assert ds.check_native(data) == []


def test_when_project_routing_prompts_present_then_both_classes_appear():
    files = [p for p in (DATA / "routing" / "prompts.jsonl", DATA / "routing" / "generated.jsonl") if p.is_file()]
    if not files:
        pytest.skip("data/routing prompts not written yet")
    prompts = ds.load_routing(files)
    assert any(p.sensitive for p in prompts) and any(not p.sensitive for p in prompts)

"""Suites over small in-memory components: retrieval modes, answers, routing."""
import random
from dataclasses import dataclass

import pytest

from evals import suites
from evals.datasets import EvalQuery, RoutingPrompt
from evals.relevance import Target
from indexing.types import Classification, SearchHit
from rag.types import Answer, Citation

DOCS = {f"d{i}.txt": f"Document {i} says fact number {i} about topic {i}." for i in range(20)}
QUERIES = [EvalQuery(f"q{i}", f"topic {i}", (Target(f"doc:d{i}.txt", f"d{i}.txt"),)) for i in range(20)]


def _hit(source: str, rank: int) -> SearchHit:
    return SearchHit(chunk_id=f"c-{source}", doc_id=source, source=source, title=source, text=DOCS[source],
                     score=1.0 / rank, label=Classification.PUBLIC, groups=("all",))


class KeywordRetriever:
    """Ranks documents by whether their number appears in the query; 'broken' mode shuffles."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.calls = []

    def search(self, query, *, groups, k, mode):
        self.calls.append((query, tuple(groups), k, mode))
        if mode == "graph":
            raise RuntimeError("no graph")
        sources = sorted(DOCS, key=lambda s: (s != f"d{query.split()[-1]}.txt", s))
        if mode == "dense":
            self.rng.shuffle(sources)
        return [_hit(s, r) for r, s in enumerate(sources[:k], start=1)]


def test_when_modes_compared_then_each_has_metrics_latency_or_an_error():
    retriever = KeywordRetriever()
    result = suites.evaluate_retrieval(QUERIES, retriever, ("bm25", "dense", "graph"))
    assert result["queries"] == 20
    assert result["modes"]["bm25"]["recall@5"] == 1.0 and result["modes"]["bm25"]["mrr@10"] == 1.0
    assert result["modes"]["dense"]["mrr@10"] < 0.6  # shuffled ranking
    assert result["modes"]["bm25"]["latency_p95_ms"] >= 0
    assert result["errors"] == {"graph": "RuntimeError: no graph"}
    assert retriever.calls[0] == ("topic 0", ("all",), suites.SEARCH_K, "bm25")


def test_when_query_has_no_target_then_retrieval_skips_it():
    unanswerable = EvalQuery("u1", "topic 3", (), answerable=False)
    result = suites.evaluate_retrieval([*QUERIES[:2], unanswerable], KeywordRetriever(), ("bm25",))
    assert result["queries"] == 2


@pytest.mark.parametrize(
    ("text", "abstains"),
    [
        ("", True),
        ("I don't know based on the provided documents.", True),
        ("The context does not mention the founding date.", True),
        ("This information is not in the provided context.", True),
        ("I cannot answer that from the sources.", True),
        ("Tiny Town was founded in 1850.", False),
        ("Returns are accepted within 30 days.", False),
    ],
)
def test_when_answer_text_read_then_abstention_is_recognized(text, abstains):
    assert suites.is_abstention(text) is abstains


def _answer(text: str, cited: list[str], route: str = "local") -> Answer:
    citations = [Citation(doc_id=s, source=s, title=s, chunk_id=f"c-{s}", snippet=DOCS[s][:10]) for s in cited]
    return Answer(request_id="r", text=text, citations=citations, route=route, reasons=[], level="public",
                  model={}, latencies={"retrieve": 0.01, "generate": 0.2, "total": 0.25})


def test_when_answers_scored_then_em_f1_citations_and_abstention_are_reported():
    queries = [
        EvalQuery("a1", "topic 1", (Target("doc:d1.txt", "d1.txt"),), answers=("fact number 1",)),
        EvalQuery("a2", "topic 2", (Target("doc:d2.txt", "d2.txt"),), answers=("fact number 2",)),
        EvalQuery("u1", "who?", (), answerable=False),
        EvalQuery("u2", "why?", (), answerable=False),
    ]
    replies = {
        "topic 1": _answer("Fact number 1.", ["d1.txt"]),
        "topic 2": _answer("It is number 7", ["d3.txt"], route="server"),
        "who?": _answer("I don't know.", []),
        "why?": _answer("Because of topic 4.", ["d4.txt"]),
    }
    texts = {f"c-{s}": _hit(s, 1) for s in DOCS}  # full chunk text: the snippet alone lacks the answer
    result = suites.evaluate_answers(queries, lambda q: replies[q.question], lambda q: texts)
    m = result["metrics"]
    assert m["exact_match"] == 0.5 and m["f1"] == pytest.approx((1.0 + 2 / 7) / 2)  # "it is number 7": p=1/4, r=1/3
    assert m["citation_accuracy"] == 0.5 and m["abstention_accuracy"] == 0.5
    assert (m["answerable"], m["unanswerable"]) == (2, 2) and m["false_abstention_rate"] == 0.0
    assert result["routes"] == {"local": 3, "server": 1}
    assert result["latency"]["generate"]["p50_ms"] == pytest.approx(200.0)


@dataclass
class Decision:
    route: str


def test_when_routing_evaluated_then_leaks_are_counted_and_listed_by_id():
    prompts = [
        RoutingPrompt("s1", "ssn 536-90-4399", True, "local", "ssn"),
        RoutingPrompt("s2", "salary of Jane", True, "local", "hr"),
        RoutingPrompt("b1", "office hours", False, "server", "benign"),
        RoutingPrompt("b2", "holiday list", False, "server", "benign"),
    ]
    routes = {"ssn 536-90-4399": "local", "salary of Jane": "server", "office hours": "server", "holiday list": "local"}
    result = suites.evaluate_routing(prompts, lambda text: Decision(routes[text]))
    assert result["metrics"]["leaks"] == 1 and result["leaked_ids"] == ["s2"]
    assert result["over_cautious_ids"] == ["b2"]
    assert result["by_category"]["hr"]["leaks"] == 1 and result["by_category"]["ssn"]["leaks"] == 0
    assert "route" in result["latency"]


def test_when_assistant_raises_then_question_scores_as_empty_answer_and_failure_is_counted():
    queries = [EvalQuery("a1", "topic 1", (Target("doc:d1.txt", "d1.txt"),), answers=("fact number 1",)),
               EvalQuery("u1", "who?", (), answerable=False)]

    def ask(query):
        raise RuntimeError("local model down")

    result = suites.evaluate_answers(queries, ask)
    assert result["metrics"]["failures"] == 2 and result["failures"] == {"RuntimeError": 2}
    assert result["metrics"]["f1"] == 0.0 and result["metrics"]["false_abstention_rate"] == 1.0
    assert result["routes"] == {"failed": 2}


def test_when_assistant_abstains_as_its_prompt_says_then_it_counts_as_abstention():
    from rag.assistant import SYSTEM_PROMPT

    refusal = SYSTEM_PROMPT.split("reply exactly:")[1].strip()
    assert suites.is_abstention(refusal)


def test_when_routing_sets_evaluated_then_recall_per_kind_side_by_side():
    dev = [RoutingPrompt("s1", "ssn 536-90-4399", True, "local", "ssn"),          # kind from category
           RoutingPrompt("b1", "office hours", False, "server", "benign_policy")]
    tuning = [RoutingPrompt("t1", "NI QQ123456C", True, "local", "x", {"kind": "identifier"}),
              RoutingPrompt("t2", "Has Ana been off sick?", True, "local", "x", {"kind": "personal_matter"}),
              RoutingPrompt("t3", "Was Bo fired?", True, "local", "x", {"kind": "personal_matter"}),
              RoutingPrompt("t4", "sprint notes", False, "server", "x", {"kind": "benign"})]
    routes = {"ssn 536-90-4399": "local", "office hours": "server", "NI QQ123456C": "refuse",
              "Has Ana been off sick?": "local", "Was Bo fired?": "server", "sprint notes": "local"}

    result = suites.evaluate_routing_sets({"dev": dev, "tuning": tuning}, lambda text: Decision(routes[text]),
                                          {"heldout": "skipped: heldout/prompts.jsonl not found"})

    assert result["sets"]["dev"]["recall_identifier"] == 1.0 and result["sets"]["dev"]["benign_kept_local"] == 0.0
    assert result["sets"]["tuning"]["recall_identifier"] == 1.0          # refused is not the server
    assert result["sets"]["tuning"]["recall_personal_matter"] == 0.5
    assert result["sets"]["tuning"]["leaks_personal_matter"] == 1 and result["leaked"]["tuning"] == ["t3"]
    assert result["sets"]["tuning"]["benign_kept_local"] == 1.0
    assert result["metrics"]["leaks"] == 0 and result["metrics"]["prompts"] == 2   # top level: the first set
    assert result["skipped"] == {"heldout": "skipped: heldout/prompts.jsonl not found"}
    assert result["sets"]["dev"]["ms_per_prompt"] >= 0.0


def test_when_answer_cites_passages_then_markers_are_stripped_for_f1_and_judged_as_citations():
    queries = [EvalQuery("a1", "topic 1", (Target("doc:d1.txt", "d1.txt"),), answers=("fact number 1",)),
               EvalQuery("a2", "topic 2", (Target("doc:d2.txt", "d2.txt"),), answers=("fact number 2",)),
               EvalQuery("u1", "who?", (), answerable=False)]
    replies = {  # a1 cites the right passage [2] of two; a2 cites the wrong one [1]
        "topic 1": _answer("fact number 1 [2]", ["d3.txt", "d1.txt"], route="server"),
        "topic 2": _answer("fact number 2 [1]", ["d3.txt", "d2.txt"], route="local"),
        "who?": _answer("I don't know. [1]", ["d3.txt"], route="server"),
    }
    texts = {f"c-{s}": _hit(s, 1) for s in DOCS}
    result = suites.evaluate_answers(queries, lambda q: replies[q.question], lambda q: texts)
    m = result["metrics"]
    assert (m["exact_match"], m["f1"], m["citation_marked_rate"]) == (1.0, 1.0, 1.0)
    assert m["citation_accuracy"] == 0.5 and m["abstention_accuracy"] == 1.0
    assert result["by_route"]["server"]["f1"] == 1.0 and result["by_route"]["server"]["abstention_accuracy"] == 1.0
    assert result["by_route"]["local"]["citation_accuracy"] == 0.0
    assert result["by_route"]["local"]["latency"]["generate"]["p50_ms"] == pytest.approx(200.0)
    assert result["per_query"]["a1"] == {"route": "server", "f1": 1.0}


def test_when_local_path_compared_then_f1_is_taken_on_the_questions_the_server_answered():
    from evals.runner import compare_paths

    policy = {"per_query": {"a1": {"route": "server", "f1": 1.0}, "a2": {"route": "local", "f1": 0.0},
                            "u1": {"route": "server", "abstained": 1.0}}}
    local = {"per_query": {"a1": {"route": "local", "f1": 0.5}, "a2": {"route": "local", "f1": 0.0},
                           "u1": {"route": "local", "abstained": 0.0}}}
    assert compare_paths(policy, local) == {"questions": 1, "server_f1": 1.0, "local_f1": 0.5}

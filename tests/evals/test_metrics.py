"""Metrics: hand-computed values, agreement with ranx, SQuAD answer scoring, routing, latency."""
import math

import pytest

from evals import metrics

RANKING = ["x", "b", "y", "a", "w", "c"]
QRELS = {"a": 2, "b": 1, "c": 1, "z": 0}  # three relevant (z has gain 0: not relevant)


@pytest.mark.parametrize(
    ("fn", "k", "expected"),
    [
        (metrics.recall_at_k, 1, 0.0),
        (metrics.recall_at_k, 2, 1 / 3),
        (metrics.recall_at_k, 5, 2 / 3),
        (metrics.recall_at_k, 10, 1.0),
        (metrics.mrr_at_k, 10, 0.5),
        (metrics.mrr_at_k, 1, 0.0),
        (metrics.hit_at_k, 1, 0.0),
        (metrics.hit_at_k, 2, 1.0),
        (
            metrics.ndcg_at_k,
            10,
            (1 / math.log2(3) + 2 / math.log2(5) + 1 / math.log2(7)) / (2 + 1 / math.log2(3) + 1 / math.log2(4)),
        ),
    ],
)
def test_when_ranking_is_fixed_then_metric_matches_hand_computation(fn, k, expected):
    assert fn(QRELS, RANKING, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("fn", [metrics.recall_at_k, metrics.mrr_at_k, metrics.ndcg_at_k, metrics.hit_at_k])
def test_when_nothing_is_relevant_or_retrieved_then_metric_is_zero(fn):
    assert fn({}, RANKING, 5) == 0.0
    assert fn(QRELS, [], 5) == 0.0


def test_when_binary_perfect_ranking_then_ndcg_is_one():
    assert metrics.ndcg_at_k({"a": 1, "b": 1}, ["b", "a", "x"], 10) == pytest.approx(1.0)


def test_when_compared_with_ranx_then_every_retrieval_metric_agrees():
    ranx = pytest.importorskip("ranx")
    qrels = {
        "q1": {"a": 2, "b": 1, "c": 1},
        "q2": {"d": 1},
        "q3": {"e": 3, "f": 1},
        "q4": {"g": 1},
    }
    runs = {
        "q1": ["x", "b", "y", "a", "w", "c", "v", "u", "t", "s", "r"],
        "q2": ["d", "x"],
        "q3": ["f", "x", "y", "z", "w", "v", "u", "e"],
        "q4": ["x", "y"],
    }
    ours = metrics.retrieval_scores(qrels, runs)
    run_scores = {q: {doc: float(len(r) - i) for i, doc in enumerate(r)} for q, r in runs.items()}
    names = {"recall@5": "recall@5", "recall@10": "recall@10", "mrr@10": "mrr@10", "ndcg@10": "ndcg@10",
             "hit@1": "hit_rate@1", "hit@5": "hit_rate@5"}
    theirs = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run_scores), list(names.values()))
    for ours_name, ranx_name in names.items():
        assert ours[ours_name] == pytest.approx(float(theirs[ranx_name]), abs=1e-6), ours_name
    assert ours["queries"] == 4


def test_when_query_has_no_relevant_item_then_it_is_left_out_of_means():
    scores = metrics.retrieval_scores({"q1": {"a": 1}, "q2": {}}, {"q1": ["a"]})
    assert scores["recall@5"] == 1.0 and scores["queries"] == 1


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Normans!", "normans"),
        ("  an   Apple, a pear ", "apple pear"),
        ("10th and 11th centuries.", "10th and 11th centuries"),
        ("Theatre", "theatre"),
    ],
)
def test_when_answer_is_normalized_then_case_punctuation_and_articles_go(text, normalized):
    assert metrics.normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("prediction", "golds", "em", "f1"),
    [
        ("France", ["France", "france."], 1.0, 1.0),
        ("in France", ["France"], 0.0, 2 / 3),
        ("the 10th century", ["10th and 11th centuries", "10th century"], 1.0, 1.0),
        ("Paris", ["France"], 0.0, 0.0),
        ("", ["France"], 0.0, 0.0),
        ("France", [], 0.0, 0.0),
    ],
)
def test_when_prediction_scored_then_em_and_f1_match_squad_rules(prediction, golds, em, f1):
    assert metrics.exact_match(prediction, golds) == em
    assert metrics.token_f1(prediction, golds) == pytest.approx(f1)


def test_when_sensitive_prompt_goes_to_server_then_it_counts_as_leak():
    records = [
        (True, "local", "local"),
        (True, "server", "local"),  # leak
        (True, "refuse", "local"),  # refused is not a leak
        (False, "server", "server"),
        (False, "local", "server"),  # over-cautious
        (False, "server", None),
    ]
    scores = metrics.routing_scores(records)
    assert scores["leaks"] == 1
    assert scores["sensitive_recall"] == pytest.approx(2 / 3)
    assert scores["sensitive_precision"] == pytest.approx(2 / 3)
    assert scores["benign_local_share"] == pytest.approx(1 / 3)
    assert scores["route_accuracy"] == pytest.approx(2 / 5)
    assert (scores["prompts"], scores["sensitive"], scores["benign"]) == (6, 3, 3)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1, 2, 3, 4], 50, 2.5), ([5], 95, 5), ([], 50, 0.0), (list(range(1, 101)), 95, 95.05)],
)
def test_when_percentile_taken_then_it_interpolates_like_numpy(values, q, expected):
    assert metrics.percentile(values, q) == pytest.approx(expected)


def test_when_latencies_summarized_then_stages_are_in_milliseconds():
    summary = metrics.latency_summary([{"retrieve": 0.010, "total": 0.1}, {"retrieve": 0.030, "total": 0.3}])
    assert summary["retrieve"]["p50_ms"] == pytest.approx(20.0)
    assert summary["total"]["p95_ms"] == pytest.approx(290.0)

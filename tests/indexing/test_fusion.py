"""Reciprocal rank fusion: the formula, weights, provenance and order-independent determinism."""
from __future__ import annotations

import itertools
import random

import pytest

from indexing.fusion import reciprocal_rank_fusion

RANKINGS = {"dense": [1, 2, 3, 4], "bm25": [3, 5, 1], "graph": [6, 3]}


def test_when_fusing_then_scores_follow_the_rrf_formula_and_ranks_are_recorded() -> None:
    fused = reciprocal_rank_fusion(RANKINGS, k=60)
    by_id = {f.id: f for f in fused}
    assert by_id[3].score == pytest.approx(1 / 63 + 1 / 61 + 1 / 62)
    assert by_id[3].ranks == {"bm25": 1, "dense": 3, "graph": 2}
    assert by_id[6].ranks == {"graph": 1}
    assert [f.id for f in fused][:2] == [3, 1]
    assert [f.score for f in fused] == sorted((f.score for f in fused), reverse=True)


@pytest.mark.parametrize("seed", range(5))
def test_when_retrievers_answer_in_any_order_then_result_is_identical(seed) -> None:
    expected = reciprocal_rank_fusion(RANKINGS, k=60, weights={"graph": 0.5})
    shuffled = list(RANKINGS.items())
    random.Random(seed).shuffle(shuffled)
    assert reciprocal_rank_fusion(dict(shuffled), k=60, weights={"graph": 0.5}) == expected


def test_when_scores_tie_then_the_smaller_id_comes_first_whatever_the_order() -> None:
    for order in itertools.permutations([("a", [10, 20]), ("b", [20, 10])]):
        fused = reciprocal_rank_fusion(dict(order), k=60)
        assert [f.id for f in fused] == [10, 20]
        assert fused[0].score == fused[1].score


@pytest.mark.parametrize("weights, first", [
    ({"dense": 1.0, "bm25": 1.0}, 9),  # found by both beats first of one
    ({"dense": 4.0, "bm25": 1.0}, 1),  # a heavy dense weight makes its first place win
    ({"dense": 1.0, "bm25": 0.0}, 1),
    ({"dense": 0.0, "bm25": 1.0}, 9),
])
def test_when_weights_change_then_the_favoured_retriever_wins(weights, first) -> None:
    fused = reciprocal_rank_fusion({"dense": [1, 9], "bm25": [9, 2]}, k=1, weights=weights)
    assert fused[0].id == first


def test_when_weight_is_zero_then_the_retriever_is_ignored_entirely() -> None:
    fused = reciprocal_rank_fusion({"dense": [1], "graph": [2]}, weights={"graph": 0})
    assert [f.id for f in fused] == [1]


def test_when_an_id_repeats_in_one_list_then_its_best_rank_counts_once() -> None:
    fused = reciprocal_rank_fusion({"dense": [5, 5, 7]}, k=0)
    assert fused[0].id == 5 and fused[0].score == pytest.approx(1.0) and fused[0].ranks == {"dense": 1}


def test_when_limit_given_then_only_the_top_are_returned_and_empty_input_is_empty() -> None:
    assert [f.id for f in reciprocal_rank_fusion(RANKINGS, limit=2)] == [3, 1]
    assert reciprocal_rank_fusion({}) == [] and reciprocal_rank_fusion({"dense": []}) == []

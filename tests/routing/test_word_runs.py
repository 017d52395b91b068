"""Runs of consecutive vocabulary words (shared by number-word normalisation and seed phrases)."""
from __future__ import annotations

import re

import pytest

from routing.word_runs import merge_runs, vocabulary_runs

VOCAB = {"red", "green", "blue"}
SEP = re.compile(r"[\s,]+")


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\w+", text)]


@pytest.mark.parametrize("text, min_words, runs", [
    ("red green blue", 3, [(0, 14, 3)]),
    ("red green blue", 4, []),                                   # too short
    ("red, green and blue, red", 2, [(0, 10, 2), (15, 24, 2)]),  # "and" ends a run
    ("red green; blue red", 2, [(0, 9, 2), (11, 19, 2)]),        # ";" is no separator here
    ("", 1, []),
])
def test_when_words_of_the_vocabulary_follow_each_other_then_one_run_each(text, min_words, runs):
    assert vocabulary_runs(text, _words(text), VOCAB, SEP, min_words) == runs


def test_overlapping_runs_merge_into_one_with_the_largest_count():
    assert merge_runs([(10, 20, 3), (0, 5, 1), (15, 30, 2), (40, 50, 4)]) == [(0, 5, 1), (10, 30, 3), (40, 50, 4)]

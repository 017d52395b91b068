"""First names for name candidates: Faker's locales, minus common words (real faker and wordfreq)."""
from __future__ import annotations

import pytest

from routing.first_names import common_words, first_names, is_common_word


@pytest.mark.parametrize("word, limit, expected", [
    ("kenji", 4.3, True),      # a first name and a rare word
    ("priya", 4.3, True),
    ("will", 4.3, False),      # a first name, but a very common word
    ("grace", 4.3, False),     # common in lower case ...
    ("grace", 5.5, True),      # ... a name when capitalised mid-sentence (the looser limit)
    ("june", 5.5, True),
    ("may", 5.5, False),       # too common even capitalised
    ("payroll", 5.5, False),   # not a first name at all
])
def test_when_word_checked_then_first_name_unless_common_word(word, limit, expected):
    assert (word in first_names(limit)) == expected


def test_when_limit_raised_then_list_only_grows():
    assert first_names(4.3) <= first_names(5.5)


@pytest.mark.parametrize("words, common, rare", [
    ("quels sont les droits des passagers".split(), "les", "pedro"),      # French: its articles
    ("o que faz uma pessoa com isso".split(), "uma", "maria"),
])
def test_when_text_language_guessed_then_its_commonest_words_returned(words, common, rare):
    top = common_words(words)

    assert common in top and rare not in top


@pytest.mark.parametrize("words", ["how many days does will have left".split(), []])
def test_when_text_is_english_or_empty_then_no_words_are_ruled_out(words):
    assert common_words(words) == frozenset()  # English names ("Will") are judged by frequency alone


@pytest.mark.parametrize("word, common", [
    ("Total", True), ("Notes", True), ("Container", True),   # frequent words that are no one's name
    ("Baker", False), ("Young", False), ("Grace", False),     # frequent words that are also surnames or first names
    ("Okonkwo", False), ("Kunsthaus", False),                 # rare words: not ruled out here
])
def test_when_word_is_frequent_and_no_ones_name_then_common(word, common):
    assert is_common_word(word, 4.0) is common

"""Presidio's context words, matched as whole words or as the stem of an inflected word.

Presidio's lemma enhancer compares the words around a match with a recognizer's context words, either
whole (English lemmas) or as substrings ("lic" in "duplicate"). Lemmas only exist for English, so in
other languages the inflected form does not match its context word: Polish "w sejfie" (in the safe),
"alarmu", Dutch "kluisje" (small locker). Here a context word of at least `MIN_STEM` letters also
matches a word that starts with it and adds at most `MAX_ENDING` letters: an inflection, not another
word inside a longer one. An English word is matched whole only ("gateway" is not "gate" inflected;
Presidio already reads English inflections through their lemmas).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

MIN_STEM = 4
MAX_ENDING = 3
ENGLISH_MIN_ZIPF = 2.5  # wordfreq frequency from which a word is taken as English (matched whole only)


def supportive_word(surrounding: Sequence[str], context: Sequence[str],
                    is_english: Callable[[str], bool] = lambda word: False) -> str:
    """The first context word that one of the surrounding words is, or inflects; "" when none."""
    words = [w.lower() for w in surrounding]
    for ctx in context:
        ctx_l = ctx.lower()
        for word in words:
            if word == ctx_l or (len(ctx_l) >= MIN_STEM and word.startswith(ctx_l)
                                 and 0 < len(word) - len(ctx_l) <= MAX_ENDING and word[len(ctx_l):].isalpha()
                                 and not is_english(word)):
                return ctx
    return ""


def _is_english(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") >= ENGLISH_MIN_ZIPF


def inflected_context_enhancer(prefix_count: int, suffix_count: int) -> Any:
    """A `LemmaContextAwareEnhancer` (window in words before and after a match) that matches inflections."""
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class InflectedContextEnhancer(LemmaContextAwareEnhancer):
        @staticmethod
        def _find_supportive_word_in_context(context_list: list[str], recognizer_context_list: list[str],
                                             matching_mode: str = "whole_word") -> str:
            return supportive_word(context_list or [], recognizer_context_list or [], _is_english)

    return InflectedContextEnhancer(context_prefix_count=prefix_count, context_suffix_count=suffix_count)


__all__ = ["supportive_word", "inflected_context_enhancer", "MIN_STEM", "MAX_ENDING"]

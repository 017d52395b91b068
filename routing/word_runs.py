"""Runs of consecutive words from one vocabulary: number words (`routing.normalize`), BIP-39 words
(`routing.seed_phrase`)."""
from __future__ import annotations

import re
from collections.abc import Collection, Sequence


def vocabulary_runs(text: str, words: Sequence[tuple[int, int, str]], vocabulary: Collection[str],
                    separator: re.Pattern[str], min_words: int) -> list[tuple[int, int, int]]:
    """(start, end, word count) of every maximal run of at least `min_words` consecutive `words` whose
    keys are in `vocabulary` and whose gaps `separator` matches in full.

    Args:
        text: the text the words come from.
        words: (start, end, key) of each word of `text`, in order; the key is what `vocabulary` holds.
        vocabulary: the words a run is made of.
        separator: what may stand between two words of a run.
        min_words: the shortest run reported.
    """
    runs: list[tuple[int, int, int]] = []
    run: list[tuple[int, int, str]] = []
    for word in [*words, None]:
        member = word is not None and word[2] in vocabulary
        if member and run and separator.fullmatch(text, run[-1][1], word[0]):
            run.append(word)
            continue
        if len(run) >= min_words:
            runs.append((run[0][0], run[-1][1], len(run)))
        run = [word] if member else []
    return runs


__all__ = ["vocabulary_runs"]

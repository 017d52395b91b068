"""Runs of consecutive words from one vocabulary: number words (`routing.normalize`), BIP-39 words
(`routing.seed_phrase`); and overlapping runs merged into one (also `routing.spoken_secret`)."""
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


def merge_runs(runs: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """One (start, end, count) per region where runs overlap, with the largest count of the region's runs."""
    out: list[tuple[int, int, int]] = []
    for start, end, count in sorted(runs, key=lambda r: (r[0], -r[1])):
        if out and start < out[-1][1]:
            last = out[-1]
            out[-1] = (last[0], max(last[1], end), max(last[2], count))
        else:
            out.append((start, end, count))
    return out


__all__ = ["merge_runs", "vocabulary_runs"]

"""Wallet recovery (seed) phrases: twelve or more words in a row from one BIP-39 word list.

A BIP-39 mnemonic is 12, 15, 18, 21 or 24 words from a fixed list of 2,048 (one list per language,
shipped with the maintained `mnemonic` package, Trezor's reference implementation). Whoever has the
words has the wallet, so a run of them is a secret whatever the text around it says. The checksum is
not required: a phrase typed from memory or with a typo is still the secret.

Words may be separated by spaces, commas, hyphens, or a list's numbering ("1. cloud 2. ginger"); any
other character ends the run. Ordinary prose rarely strings twelve list words together without a
stop word outside the list ("the", "and", "to", "is" are not in the English list).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from routing.word_runs import merge_runs, vocabulary_runs

MIN_WORDS = 12
LANGUAGES = ("english", "spanish", "french", "italian", "portuguese", "czech", "turkish")
_WORD = re.compile(r"[^\W\d_]+")
_SEPARATOR = re.compile(r"(?:[\s,;\-]|\d{1,2}[.)]|\(\d{1,2}\))*")


@dataclass(frozen=True)
class PhraseSpan:
    start: int
    end: int
    words: int


@lru_cache(maxsize=1)
def wordlists() -> tuple[frozenset[str], ...]:
    """The BIP-39 word lists of `LANGUAGES` (see `_key`)."""
    from mnemonic import Mnemonic

    return tuple(frozenset(_key(w) for w in Mnemonic(lang).wordlist) for lang in LANGUAGES)


def _key(word: str) -> str:
    """A word as the lists spell it: lower case, NFKD (BIP-39 normalises words that way)."""
    return unicodedata.normalize("NFKD", word.lower())


def find_seed_phrases(text: str, min_words: int = MIN_WORDS) -> list[PhraseSpan]:
    """Spans of runs of at least `min_words` consecutive words of one BIP-39 list."""
    words = [(m.start(), m.end(), _key(m.group(0))) for m in _WORD.finditer(text)]
    runs = [run for wordlist in wordlists() for run in vocabulary_runs(text, words, wordlist, _SEPARATOR, min_words)]
    return [PhraseSpan(*run) for run in merge_runs(runs)]  # one span per region: two lists can share words


__all__ = ["MIN_WORDS", "PhraseSpan", "find_seed_phrases", "wordlists"]

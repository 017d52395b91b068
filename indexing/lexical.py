"""Lexical (BM25) search support: the SQLite FTS5 query built from free user text.

Choice: SQLite FTS5 with its built-in `bm25()` ranking rather than an in-memory BM25 library (bm25s). FTS5
lives in the same SQLite file as the chunks, so it is persistent (nothing rebuilt at start-up or per query),
incremental (a document's rows are added and deleted in the document's own transaction) and transactional
(a crash never leaves the lexical index out of step with the chunks). Access control is a join on the
document's groups inside the same query, so `k` allowed results come back whenever `k` exist.

The table indexes the chunk text, its heading and its document title as separate columns (weighted in
`BM25_WEIGHTS`), with the porter stemmer over unicode61 (diacritics folded).

The same module holds the project's one word tokenizer, stop-word list and stemmer (`words`,
`content_words`, `terms`), which the knowledge graph uses to link and score by word overlap.

User text never reaches MATCH as syntax: it is cut into word tokens, each token is double-quoted (a phrase
of one word) and the tokens are OR-ed, so "what's", "C++", "AND", "NEAR(" or a lone quote cannot raise.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

# FTS5 column weights for bm25(): text, heading, title.
BM25_WEIGHTS = (1.0, 0.5, 0.5)

FTS_TABLE_SQL = ("CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
                 "text, heading, title, tokenize = 'porter unicode61 remove_diacritics 2')")

MAX_QUERY_TERMS = 64

# Words so common in questions that matching them only adds noise; BM25's idf would mostly discount them.
# The one stop-word list of the project's lexical matching (FTS5 queries, graph linking, bridge terms).
STOP_WORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it its
me my of on or our s should so t than that the their them then there these they this to was we were what
when where which who whom why will with would you your
""".split())

_WORD = re.compile(r"\w+", re.UNICODE)
# Porter (1980), the algorithm of FTS5's `porter` tokenizer. A snowballstemmer stemmer keeps its working
# state on the object, so concurrent requests (API threads) each need their own: one per thread.
_STEMMERS = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    if not hasattr(_STEMMERS, "porter"):
        _STEMMERS.porter = snowballstemmer.stemmer("porter")
    return _STEMMERS.porter


def words(text: str) -> list[str]:
    """Lower-cased word tokens of `text`, in order (punctuation, apostrophes and hyphens split words)."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """`words(text)` without stop words."""
    return [w for w in words(text) if w not in STOP_WORDS]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter stem of a lower-case word ("owns", "owned", "owning" -> "own"); numbers and words of up to
    two letters are kept as they are."""
    return word if len(word) <= 2 or not word.isalpha() else _stemmer().stemWord(word)


def terms(text: str) -> frozenset[str]:
    """The distinct stemmed content words of `text` (one-letter words dropped), for cheap lexical overlap."""
    return frozenset(stem(w) for w in content_words(text) if len(w) > 1)


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased word tokens of `text`, stopwords dropped (unless nothing else is left)."""
    all_words = words(text)
    kept = [w for w in all_words if w not in STOP_WORDS] or all_words
    return list(dict.fromkeys(kept))[:MAX_QUERY_TERMS]


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression for free text: quoted terms joined with OR; None if no terms."""
    found = query_terms(text)
    if not found:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in found)

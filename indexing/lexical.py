"""Lexical (BM25) search support: the SQLite FTS5 query built from free user text.

Choice: SQLite FTS5 with its built-in `bm25()` ranking rather than an in-memory BM25 library (bm25s). FTS5
lives in the same SQLite file as the chunks, so it is persistent (nothing rebuilt at start-up or per query),
incremental (a document's rows are added and deleted in the document's own transaction) and transactional
(a crash never leaves the lexical index out of step with the chunks). Access control is a join on the
document's groups inside the same query, so `k` allowed results come back whenever `k` exist.

The table indexes the chunk text, its heading and its document title as separate columns (weighted in
`BM25_WEIGHTS`), with the porter stemmer over unicode61 (diacritics folded).

User text never reaches MATCH as syntax: it is cut into word tokens, each token is double-quoted (a phrase
of one word) and the tokens are OR-ed, so "what's", "C++", "AND", "NEAR(" or a lone quote cannot raise.
"""
from __future__ import annotations

import re

# FTS5 column weights for bm25(): text, heading, title.
BM25_WEIGHTS = (1.0, 0.5, 0.5)

FTS_TABLE_SQL = ("CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
                 "text, heading, title, tokenize = 'porter unicode61 remove_diacritics 2')")

MAX_QUERY_TERMS = 64

# Words so common in questions that matching them only adds noise; BM25's idf would mostly discount them.
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it its
me my of on or our s should so t than that the their them then there these they this to was we were what
when where which who whom why will with would you your
""".split())

_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased word tokens of `text`, stopwords dropped (unless nothing else is left)."""
    words = [w.lower() for w in _WORD.findall(text)]
    kept = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(kept))[:MAX_QUERY_TERMS]


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression for free text: quoted terms joined with OR; None if no terms."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)

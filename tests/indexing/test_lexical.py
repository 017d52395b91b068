"""FTS5 query building: user text never reaches MATCH as syntax."""
from __future__ import annotations

import sqlite3

import pytest

from indexing.lexical import FTS_TABLE_SQL, fts_query, query_terms, stem, terms


@pytest.mark.parametrize("text, terms", [
    ("What's the refund window? Don't wait", ["refund", "window", "don", "wait"]),
    ("C++ AND NOT java", ["c", "not", "java"]),
    ('"unbalanced quote', ["unbalanced", "quote"]),
    ("the and of", ["the", "and", "of"]),   # only stopwords: keep them rather than nothing
    ("Refund REFUND refund", ["refund"]),
    ("", []),
    ("?!*()", []),
])
def test_query_terms(text, terms) -> None:
    assert query_terms(text) == terms


@pytest.mark.parametrize("text", ["what's", "C++", "AND", "OR NOT", "NEAR(a b)", "col:value", '"', "a*", "^x",
                                  "-minus", "(", "text:refund", "ÄÖÜ ß", "🙂"])
def test_when_user_text_has_fts_syntax_then_match_never_raises(text) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(FTS_TABLE_SQL)
    conn.execute("INSERT INTO chunks_fts VALUES ('AND what C++ refund', '', '')")
    query = fts_query(text)
    if query is not None:
        conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (query,)).fetchall()


@pytest.mark.parametrize("word, expected", [
    ("owns", "own"), ("owned", "own"), ("owning", "own"), ("caresses", "caress"), ("ponies", "poni"),
    ("relational", "relat"), ("hopping", "hop"), ("filing", "file"), ("responsibility", "respons"), ("2024", "2024"),
])
def test_when_stemming_then_porter_forms_match(word, expected):
    assert stem(word) == expected


def test_when_extracting_terms_then_stop_words_go_and_inflections_meet():
    assert terms("Who owns the queues?") == terms("The queue is owned") | {"own"} == {"own", "queue"}


def test_when_many_threads_stem_at_once_then_each_gets_the_serial_stems():
    # a shared snowballstemmer object raised AssertionError under concurrent API requests (HTTP 500)
    from concurrent.futures import ThreadPoolExecutor

    from indexing.lexical import stem

    vocabulary = [f"{root}{suffix}" for root in ("connect", "relat", "generaliz", "hop", "rational", "condition",
                                                "adjust", "formaliz", "sensitiv", "electric")
                  for suffix in ("ing", "ed", "ions", "ational", "ness", "ically", "ements", "ization")]
    expected = {w: stem.__wrapped__(w) for w in vocabulary}

    def stem_all(offset: int) -> dict[str, str]:
        words = vocabulary[offset:] + vocabulary[:offset]
        return {w: stem.__wrapped__(w) for _ in range(20) for w in words}  # uncached: the stemmer itself

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(stem_all, range(8)))
    assert all(result == expected for result in results)

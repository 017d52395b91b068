"""First names for the name-candidate recognizer: Faker's person providers (every locale), without
the names that are also common words.

The small spaCy model misses a lone first name ("complaints against Kenji", "my report steven"),
and users often write names in lower case. A token that is a first name in any of Faker's locales
counts as a name candidate, unless it is a frequent word as well: "will", "may" or "grace" in lower
case, "Will" or "June" capitalised. Word frequency comes from wordfreq (Zipf scale: 6 is "have",
3 is rare). A capitalised token gets the looser limit, since capitals already say "name".

The frequency is English's. In a text in another language its own commonest words are not names either
("les" in French, "uma" in Portuguese, "czy" in Polish): `common_words` guesses the text's language from
wordfreq's top-100 lists and returns that language's list (none for English).
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import lru_cache

_NAME_ATTRIBUTES = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
# first and last names (some locales keep gendered lists of last names)
PERSON_NAME_ATTRIBUTES = (*_NAME_ATTRIBUTES, "last_names", "last_names_male", "last_names_female")


@lru_cache(maxsize=4)
def first_names(max_zipf: float) -> frozenset[str]:
    """Lower-cased first names of every Faker locale whose English Zipf frequency is below `max_zipf`."""
    from wordfreq import zipf_frequency

    return frozenset(name for name in _faker_first_names() if zipf_frequency(name, "en") < max_zipf)


# Languages in Latin script whose commonest words can look like first names; wordfreq's small lists.
_LANGUAGES = ("en", "fr", "es", "pt", "de", "it", "nl", "pl", "tr", "id", "ms", "sv", "nb", "da", "fi", "cs", "ro",
              "hu", "ca", "fil", "vi", "sk", "sl", "lt", "lv", "sh")
_TOP_N = 100


def common_words(words: Iterable[str]) -> frozenset[str]:
    """The top-100 words of the language that most of these lower-case `words` belong to; none for English
    (on a tie too), where the frequency limits above already apply and a capitalised "Will" is a name."""
    tops = _top_words()
    words = list(words)
    best = max(_LANGUAGES, key=lambda lang: (sum(w in tops[lang] for w in words), lang == "en"))
    return frozenset() if best == "en" else tops[best]


def is_common_word(word: str, min_zipf: float) -> bool:
    """True for an English word at least this frequent (wordfreq Zipf) that no Faker locale has as a first or a
    last name: capitalised in a form, a table or a log, "Total", "Unit" or "Notes" is not anyone's name, while
    "Grace", "Baker" or "Young" can be."""
    from wordfreq import zipf_frequency

    lower = word.lower()
    return zipf_frequency(lower, "en") >= min_zipf and lower not in faker_names(PERSON_NAME_ATTRIBUTES)


@lru_cache(maxsize=1)
def _top_words() -> dict[str, frozenset[str]]:
    from wordfreq import top_n_list

    return {lang: frozenset(top_n_list(lang, _TOP_N, wordlist="small")) for lang in _LANGUAGES}


@lru_cache(maxsize=1)
def _faker_first_names() -> frozenset[str]:
    return faker_names(_NAME_ATTRIBUTES)


@lru_cache(maxsize=2)
def faker_names(attributes: tuple[str, ...]) -> frozenset[str]:
    """Lower-cased one-word names of every Faker locale's person provider under these attributes."""
    import faker.providers.person as providers

    names: set[str] = set()
    for module in pkgutil.iter_modules(providers.__path__):
        provider = getattr(importlib.import_module(f"{providers.__name__}.{module.name}"), "Provider", None)
        for attribute in attributes:
            values = vars(provider).get(attribute) if provider is not None else None
            if isinstance(values, (list, tuple, set, frozenset, dict)) or hasattr(values, "keys"):
                names.update(str(v).lower() for v in values if " " not in str(v) and len(str(v)) > 2)
    return frozenset(names)


__all__ = ["PERSON_NAME_ATTRIBUTES", "common_words", "faker_names", "first_names", "is_common_word"]

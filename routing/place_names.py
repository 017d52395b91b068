"""Place names, so that a lone town or region is not taken for a person.

The small spaCy model calls many one-word places PERSON ("our Rotterdam warehouse", "em Lisboa"). The
places come from phonenumbers' geocoding data: the town or region of every telephone prefix, in English
and in the local languages: about 24,000 one-word names once every first or last name of one
of Faker's locales is taken out ("Florence", "Jackson", "Lincoln" stay possible people: fail closed).
"""
from __future__ import annotations

import importlib
import os
import re
from functools import lru_cache

from routing.first_names import PERSON_NAME_ATTRIBUTES, faker_names


def is_place_name(span: str) -> bool:
    """True when `span` is one word that names a place and is nobody's first or last name."""
    word = span.strip().lower()
    return " " not in word and word in place_names()


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Lower-cased one-word place names of phonenumbers' geocoder, without Faker's person names."""
    import phonenumbers

    folder = os.path.join(os.path.dirname(phonenumbers.__file__), "geodata")
    places: set[str] = set()
    for file in os.listdir(folder):
        if not re.fullmatch(r"data\d+\.py", file):
            continue
        module = importlib.import_module(f"phonenumbers.geodata.{file[:-3]}")
        for table in (v for v in vars(module).values() if isinstance(v, dict)):
            for by_language in (v for v in table.values() if isinstance(v, dict)):
                for description in by_language.values():
                    places.update(p.strip().lower() for p in description.split(",") if " " not in p.strip())
    return frozenset(p for p in places if len(p) > 2 and p.isalpha()) - faker_names(PERSON_NAME_ATTRIBUTES)


__all__ = ["is_place_name", "place_names"]

"""Wallet recovery phrases: runs of BIP-39 words (the `mnemonic` package's word lists)."""
from __future__ import annotations

import pytest

from routing.seed_phrase import find_seed_phrases

TWELVE = "rocket tissue garden elbow lunar vessel crisp harvest noble pepper sunset tribe"


@pytest.mark.parametrize("text", [
    f"keep this safe: {TWELVE}",
    TWELVE.replace(" ", ", "),                                                  # comma separated
    " ".join(f"{i}. {w}" for i, w in enumerate(TWELVE.split(), 1)),              # a numbered list
    "frase: ábaco abdomen abeja abierto abogado abono aborto abrazo abrir abuelo abuso acabar",  # Spanish list
])
def test_when_twelve_list_words_in_a_row_then_one_phrase_over_them(text):
    found = find_seed_phrases(text)

    assert len(found) == 1 and found[0].words >= 12
    assert text[found[0].start:found[0].end].split()[-1].strip(",") in TWELVE.split() + ["acabar"]


@pytest.mark.parametrize("text", [
    "rocket tissue garden elbow lunar vessel crisp harvest noble pepper sunset",  # eleven words
    "please review this report about all access you can use at the team budget review",  # prose: "at", "the"
    "rocket tissue garden elbow lunar vessel. crisp harvest noble pepper sunset tribe",  # a full stop ends a run
])
def test_when_fewer_than_twelve_in_a_row_then_none(text):
    assert find_seed_phrases(text) == []

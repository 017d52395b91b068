"""Context words matched whole or as the stem of an inflected word (pure logic)."""
import pytest

from routing.context_enhancer import _is_english, supportive_word


@pytest.mark.parametrize("surrounding, context, found", [
    (["the", "safe"], ["safe", "door"], "safe"),          # whole word
    (["w", "sejfie"], ["sejf"], "sejf"),                   # Polish locative: stem + ending
    (["mijn", "kluisje"], ["kluis"], "kluis"),             # Dutch diminutive
    (["Alarmu"], ["alarm"], "alarm"),                      # case does not matter
    (["duplicate"], ["lic"], ""),                          # not a substring inside another word
    (["safety"], ["saf"], ""),                             # a stem shorter than four letters is whole-word only
    (["doorways"], ["door"], ""),                          # more than three letters added: another word
    (["door2"], ["door"], ""),                             # an ending of letters only
    ([], ["door"], ""),
])
def test_when_surrounding_word_is_the_context_word_or_inflects_it_then_supportive(surrounding, context, found):
    assert supportive_word(surrounding, context) == found


@pytest.mark.parametrize("surrounding, found", [(["gateway"], ""), (["safety"], ""), (["sejfie"], "sejf")])
def test_when_the_longer_word_is_english_then_only_a_whole_match_counts(surrounding, found):
    assert supportive_word(surrounding, ["gate", "safe", "sejf"], _is_english) == found

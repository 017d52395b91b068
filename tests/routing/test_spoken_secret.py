"""A secret read out symbol by symbol (routing/spoken_secret.py): pure logic, then the real detector."""
import pytest

from routing.spoken_secret import find_spoken_secrets


@pytest.mark.parametrize(
    "text, said",
    [
        ("on the phone: the kiosk password is river underscore otter dash forty one hash", "river underscore"),
        ("das Kennwort für den Drucker ist großes P, dann apfel, Unterstrich, drei drei", "Unterstrich"),
        ("el pin de la alarma es cuatro, ocho, y luego almohadilla, arroba y nueve", "almohadilla"),
        ("NATO please: Hotel Echo Lima, then seven, exclamation mark. That is my VPN password", "exclamation mark"),
        ("wachtwoord: kleine letter z, dan hoofdletter Q, vijf, uitroepteken", "uitroepteken"),
        ("the wi-fi key for the lab is capital G, lowercase heron, then the number 8", "lowercase"),
    ],
)
def test_when_secret_is_dictated_then_found(text, said):
    found = find_spoken_secrets(text, 1)

    assert len(found) == 1
    assert text.index(said) < found[0].end <= len(text)


@pytest.mark.parametrize(
    "text",
    [
        "passwords need uppercase, lowercase, digits and symbols like hash, dash or underscore",
        "the password must have a capital letter and an exclamation mark",
        "no underscore or asterisk is allowed in the password",
        "in the tutorial they hash the password with bcrypt",
        "how do people say hash, underscore and at sign when dictating notes?",  # no secret word
        "the tracking code is Kilo Lima four four Zulu",  # a tracking code opens nothing
        "we store the pin code hash and salt separately",
    ],
)
def test_when_symbols_are_named_as_a_rule_or_no_secret_word_then_nothing(text):
    assert find_spoken_secrets(text, 1) == []


def test_markers_on_the_far_side_of_a_blank_line_do_not_count():
    assert find_spoken_secrets("password reset steps\n\nthen type underscore dash hash", 1) == []


def test_min_markers_is_the_threshold():
    text = "my password is lemon underscore tree"

    assert find_spoken_secrets(text, 1) and not find_spoken_secrets(text, 2)


@pytest.mark.slow
def test_detector_routes_a_dictated_password_local(detector):
    decision = detector.classify("ok the door laptop password is Maple underscore forty two exclamation mark, reset it")

    assert decision.level.name == "RESTRICTED"
    assert any(f.entity_type == "CREDENTIAL" for f in decision.findings)


def test_when_dictated_before_the_secret_word_then_the_span_is_the_dictated_part():
    text = "ok here goes: Kilo Mike Papa, then seven, then hash sign, then dash. That is the vault passphrase."

    [found] = find_spoken_secrets(text, 1)

    assert text[found.start:found.end].startswith("Mike Papa") and text[found.start:found.end].endswith("dash")


@pytest.mark.slow
def test_detector_routes_a_password_dictated_before_its_word_local(detector):
    # the span once ended at the word "password", which the placeholder check took for the value
    decision = detector.classify("spelling it: Romeo Lima Echo, then four, then lowercase q, then at sign. That's my "
                                 "laptop password")

    assert decision.level.name == "RESTRICTED", decision.findings

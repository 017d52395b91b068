"""Place names from phonenumbers' geocoder (routing/place_names.py): pure lookups, then the real detector."""
import pytest

from routing.place_names import is_place_name, place_names


def test_the_list_is_large_and_lower_case():
    names = place_names()

    assert len(names) > 10_000
    assert all(n == n.lower() and " " not in n for n in list(names)[:500])


@pytest.mark.parametrize("word", ["Rotterdam", "Lisboa", "Eindhoven", "Wrocław"])
def test_when_word_is_a_town_then_place(word):
    assert is_place_name(word)


@pytest.mark.parametrize("word", ["Florence", "Jackson", "Lincoln", "Victoria", "Sydney", "Jordan", "Maria", "Okonkwo"])
def test_when_town_is_also_a_person_name_or_no_town_then_not_a_place(word):
    assert not is_place_name(word)  # fail closed: a first or last name may be a person


def test_more_than_one_word_is_never_a_place_here():
    assert not is_place_name("Rotterdam Zuid")


@pytest.mark.slow
def test_detector_reads_a_town_before_an_office_address_as_a_place(detector):
    office = detector.classify("What's the postcode of our Eindhoven warehouse, Distributieweg 14? The carrier asks.")
    home = detector.classify("Please post the contract to Femke Jansen, Distributieweg 14, 5612 AB Eindhoven, her home.")

    assert office.level.name in ("PUBLIC", "INTERNAL")
    assert home.level.name in ("CONFIDENTIAL", "RESTRICTED")

"""Entity normalisation and alias resolution (pure)."""
from __future__ import annotations

import pytest

from knowledge_graph.catalog import EntityCatalog, normalize_key


@pytest.mark.parametrize("surface, key", [
    ("ACME Payments", "acme payments"),
    ("  ACME   Payments ", "acme payments"),
    ("ACME Payments'", "acme payments"),
    ("the Platform Team's", "platform team"),
    ("The Platform Team’s", "platform team"),
    ("Vault-7.", "vault-7"),
    ("“Orion”", "orion"),
    ("Ｏｒｉｏｎ", "orion"),  # full-width letters (NFKC)
])
def test_when_surface_forms_differ_in_case_space_or_possessive_then_keys_match(surface, key):
    assert normalize_key(surface) == key


@pytest.fixture(scope="module")
def catalog() -> EntityCatalog:
    return EntityCatalog.from_yaml()


@pytest.mark.parametrize("surface, key", [
    ("Payments Service", "acme payments"),
    ("the payments service", "acme payments"),
    ("ACME Payments", "acme payments"),
    ("Vault 7", "vault-7"),
    ("Nightjar", "project nightjar"),
    ("People Ops", "people operations"),
    ("Orion message queue", "orion"),
    ("Some New System", "some new system"),  # unknown names keep their own key
])
def test_when_alias_is_declared_then_it_resolves_to_the_canonical_key(catalog, surface, key):
    assert catalog.resolve(surface) == key


def test_when_catalog_loads_then_declared_domain_is_complete(catalog):
    names = {e.name for e in catalog.entities}
    for expected in ("ACME Payments", "Ledger Sync", "Acme Insights", "Orion", "Atlas", "Beacon", "Vault-7",
                     "Platform Team", "Payments Team", "Data Team", "Security Team", "People Operations",
                     "Finance", "Legal", "Project Nightjar", "Project Bluefin", "Project Halcyon"):
        assert expected in names
    assert catalog.canonical("orion").type == "SYSTEM"
    assert "PERSON" in catalog.sensitive_types and "EMPLOYEE_ID" in catalog.sensitive_types
    assert catalog.hinted_types(["which", "team"]) == {"TEAM"}


@pytest.mark.parametrize("data, message", [
    ({"entities": [{"name": "X"}]}, "needs a `name` and a `type`"),
    ({"patterns": [{"type": "ID", "regex": "("}]}, "valid `regex`"),
])
def test_when_catalog_entry_is_malformed_then_error_names_it(data, message):
    with pytest.raises(ValueError, match=message):
        EntityCatalog.from_dict(data)


def test_when_catalog_file_is_missing_then_error_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="omit it to use"):
        EntityCatalog.from_yaml(tmp_path / "nope.yaml")

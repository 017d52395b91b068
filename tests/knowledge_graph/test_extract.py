"""Entity and relation extraction on known sentences with the real spaCy model."""
from __future__ import annotations

import pytest

from knowledge_graph.catalog import EntityCatalog
from knowledge_graph.extract import CO_OCCURS, EntityExtractor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def extractor(nlp) -> EntityExtractor:
    return EntityExtractor(nlp, EntityCatalog.from_yaml())


@pytest.mark.parametrize("sentence, relation", [
    ("The Platform Team owns Orion.", ("platform team", "own", "orion")),
    ("Orion is owned by the Platform Team.", ("platform team", "own", "orion")),
    ("Orion, which is maintained by the Platform Team, carries payment events.",
     ("platform team", "maintain", "orion")),
    ("The Payments Service depends on Atlas and Vault-7.", ("acme payments", "depend on", "atlas")),
    ("The Payments Service depends on Atlas and Vault-7.", ("acme payments", "depend on", "vault-7")),
    ("Ledger Sync reads customer records from Atlas.", ("ledger sync", "read from", "atlas")),
    ("The Security Team is responsible for Vault-7.", ("security team", "responsible for", "vault-7")),
    ("Beacon monitors Orion.", ("beacon", "monitor", "orion")),
    ("Orion is owned by the Platform Team, led by Tomasz Kowalczyk.", ("tomasz kowalczyk", "lead", "platform team")),
])
def test_when_sentence_has_subject_verb_object_then_relation_is_extracted(extractor, sentence, relation):
    (extraction,) = extractor.extract([sentence])
    triples = {(r.src, r.relation, r.dst) for r in extraction.relations}
    assert relation in triples


@pytest.mark.parametrize("sentence, expected", [
    ("Sven Lindqvist is the Product Manager for Acme Insights.",
     {("sven lindqvist", "PERSON"), ("acme insights", "PRODUCT")}),
    ("Project Nightjar is led by Priya Raman from the Data Team.",
     {("project nightjar", "PROJECT"), ("priya raman", "PERSON"), ("data team", "TEAM")}),
    ("Employee EMP-10442 joined Finance in March.", {("emp-10442", "EMPLOYEE_ID"), ("finance", "TEAM")}),
    ("Questions about Vault 7 go to People Ops.", {("vault-7", "SYSTEM"), ("people operations", "TEAM")}),
    ("ACME Payments' outage was caused by Orion.", {("acme payments", "PRODUCT"), ("orion", "SYSTEM")}),
])
def test_when_sentence_names_entities_then_they_are_found_with_types(extractor, sentence, expected):
    (extraction,) = extractor.extract([sentence])
    assert expected <= {(m.key, m.type) for m in extraction.mentions}


@pytest.mark.parametrize("sentence, absent", [
    ("Our finance colleagues review the budget.", "finance"),  # match_case: a common word is not the team
    ("Send the beacon signal at 12 March 2024.", "beacon"),
    ("Acme Corp announced results.", "acme corp"),  # ignored hub entity
])
def test_when_word_is_common_or_ignored_then_no_entity(extractor, sentence, absent):
    (extraction,) = extractor.extract([sentence])
    assert absent not in {m.key for m in extraction.mentions}


def test_when_aliases_are_used_then_both_mentions_share_one_key(extractor):
    first, second = extractor.extract(["ACME Payments is growing.", "The Payments Service is growing."])
    assert {m.key for m in first.mentions} == {m.key for m in second.mentions} == {"acme payments"}


def test_when_entities_share_a_sentence_or_table_row_then_they_co_occur(extractor):
    text = ("Atlas stores merchants and Ledger Sync reads it.\n\n"
            "| System | Owning team |\n|---|---|\n| Orion | Platform Team |\n| Vault-7 | Security Team |")
    (extraction,) = extractor.extract([text])
    pairs = {(r.src, r.dst) for r in extraction.relations if r.relation == CO_OCCURS}
    assert ("atlas", "ledger sync") in pairs
    assert ("orion", "platform team") in pairs
    assert ("security team", "vault-7") in pairs
    assert ("orion", "security team") not in pairs  # different table rows


def test_when_extracting_then_the_shared_pipeline_is_not_modified(nlp, extractor):
    before = list(nlp.pipe_names)
    extractor.extract(["The Platform Team owns Orion."])
    assert nlp.pipe_names == before


def _keys(extraction) -> set[str]:
    return {m.key for m in extraction.mentions}


def test_when_given_the_passage_parse_then_only_the_chunk_texts_entities_count(nlp, extractor):
    text = "The Platform Team owns Orion. Beacon monitors Orion."
    passage = f"Atlas runbook: {text}"  # the title names Atlas: not an entity of this chunk
    (shared,) = extractor.extract_parsed([text], [nlp(passage)])
    (alone,) = extractor.extract([text])
    assert "atlas" not in _keys(shared)
    assert _keys(shared) == _keys(alone) == {"platform team", "orion", "beacon"}
    assert set(shared.relations) == set(alone.relations)


@pytest.mark.parametrize("parse", ["none", "other text", "not a doc"])
def test_when_the_parse_does_not_end_with_the_text_then_the_text_is_parsed_again(nlp, extractor, parse):
    text = "The Platform Team owns Orion."
    given = {"none": None, "other text": nlp("Beacon monitors Orion."), "not a doc": text}[parse]
    (shared,) = extractor.extract_parsed([text], [given])
    assert shared == extractor.extract([text])[0]


def test_when_parses_and_texts_differ_in_number_then_value_error(extractor):
    with pytest.raises(ValueError, match="2 texts but 1 parses"):
        extractor.extract_parsed(["a", "b"], [None])

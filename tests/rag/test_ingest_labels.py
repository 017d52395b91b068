"""One spaCy parse per chunk at ingest: Presidio's Docs feed the graph extractor with identical results."""
from __future__ import annotations

import pytest

from knowledge_graph.catalog import EntityCatalog
from knowledge_graph.extract import EntityExtractor
from rag.config import Settings
from rag.ingest_labels import PresidioLabeler
from routing.detect import PresidioDetector

pytestmark = pytest.mark.slow

TEXTS = [
    "The Platform Team owns Orion. Tomasz Kowalczyk leads it from Warsaw.",
    "Employee SSN 536-90-4399 belongs to Maria Lopez, who reports to the Security Team.",
    "MARIA LOPEZ and JOHN SMITH approved the Atlas migration.",  # title-cased for Presidio: graph re-parses
    "Refunds reach your card within 10 business days.",
]


@pytest.fixture(scope="module")
def detector() -> PresidioDetector:
    settings = Settings()
    found = PresidioDetector.from_yaml(settings.recognizers_path, spacy_model=settings.spacy_model)
    found.warm_up()
    return found


def test_when_labelled_with_parses_then_labels_match_the_plain_labeller(detector) -> None:
    labeler = PresidioLabeler(detector)
    labels, docs = labeler.label_parsed(TEXTS)
    assert labels == labeler(TEXTS) and len(docs) == len(TEXTS)
    assert labels[1] > labels[3]  # the SSN chunk is more sensitive than the refund one


def test_when_graph_extracts_from_presidio_docs_then_result_equals_its_own_parse(detector) -> None:
    extractor = EntityExtractor(detector.nlp, EntityCatalog.from_yaml())
    _, docs = detector.classify_parsed(TEXTS)
    assert docs[2].text != TEXTS[2] and docs[0].text == TEXTS[0]
    assert extractor.extract(TEXTS, docs) == extractor.extract(TEXTS)
    assert any(m.key == "orion" for m in extractor.extract(TEXTS, docs)[0].mentions)


def test_when_docs_do_not_match_texts_then_extract_refuses_a_length_mismatch(detector) -> None:
    extractor = EntityExtractor(detector.nlp, EntityCatalog.from_yaml())
    with pytest.raises(ValueError, match="2 texts but 1 docs"):
        extractor.extract(TEXTS[:2], [None])

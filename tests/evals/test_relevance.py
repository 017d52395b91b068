"""Judging hits against targets: evidence matching, boundary-straddling evidence, ranked items."""
from dataclasses import dataclass

import pytest

from evals.relevance import Target, any_supported, contains_evidence, meets, normalize_text, rank_items

EVIDENCE = "Items may be returned within 30 days of delivery for a full refund."


@dataclass
class Hit:
    chunk_id: str
    source: str
    text: str


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Returns. {EVIDENCE} Shipping is free.", True),
        ("Returns.\n\n**Items may be  returned** within 30 days\nof delivery for a full refund.", True),  # markup, spacing
        ("Items may be returned within 30 days of delivery", True),  # first half: straddles a boundary
        ("within 30 days of delivery for a full refund. Next section.", True),  # last half
        ("Items may be returned", False),  # too small a piece
        ("Unrelated text about travel.", False),
    ],
)
def test_when_chunk_text_varies_then_evidence_match_follows_rule(text, expected):
    assert contains_evidence(text, EVIDENCE) is expected


def test_when_quotes_are_curly_then_normalized_text_matches_straight():
    assert normalize_text("Acme\u2019s \u201cPlan\u201d") == normalize_text("Acme's \"Plan\"")


@pytest.mark.parametrize(
    ("hit", "expected"),
    [
        (Hit("c1", "public/returns.md", EVIDENCE), True),
        (Hit("c1", "./public/returns.md", EVIDENCE), True),
        (Hit("c1", "public/other.md", EVIDENCE), False),  # right text, wrong document
        (Hit("c1", "public/returns.md", "something else"), False),
    ],
)
def test_when_hit_is_judged_then_source_and_evidence_must_both_match(hit, expected):
    assert meets(Target("q#0", "public/returns.md", EVIDENCE), hit) is expected


def test_when_evidence_is_in_two_overlapping_chunks_then_one_item_is_counted():
    targets = [Target("q#0", "a.md", EVIDENCE)]
    hits = [Hit("x", "b.md", "noise"), Hit("c1", "a.md", EVIDENCE), Hit("c2", "a.md", "before " + EVIDENCE)]
    assert rank_items(hits, targets) == ["chunk:x", "q#0"]


def test_when_one_chunk_holds_two_evidences_then_both_targets_are_met_in_order():
    targets = [Target("q#0", "a.md", "alpha beta gamma delta epsilon"), Target("q#1", "a.md", "zeta eta theta iota kappa")]
    hits = [Hit("c1", "a.md", "alpha beta gamma delta epsilon and zeta eta theta iota kappa")]
    assert rank_items(hits, targets) == ["q#0", "q#1"]


def test_when_targets_are_documents_then_chunks_are_grouped_by_document():
    targets = [Target("doc:p1.txt", "p1.txt")]
    hits = [Hit("a", "p2.txt", "x"), Hit("b", "p2.txt", "y"), Hit("c", "p1.txt", "z")]
    assert rank_items(hits, targets) == ["doc:p2.txt", "doc:p1.txt"]


@pytest.mark.parametrize(
    ("cited", "answers", "expected"),
    [
        ([Hit("c", "p1.txt", "The capital is Paris.")], ["Paris"], True),
        ([Hit("c", "p1.txt", "The capital is Lyon.")], ["Paris"], False),  # right paragraph, answer not in chunk
        ([Hit("c", "p2.txt", "Paris again")], ["Paris"], False),  # answer, wrong paragraph
        ([], ["Paris"], False),
    ],
)
def test_when_citations_checked_then_gold_answer_must_be_in_a_gold_chunk(cited, answers, expected):
    assert any_supported(cited, [Target("doc:p1.txt", "p1.txt")], answers) is expected


def test_when_target_has_evidence_then_citation_must_hold_it():
    targets = [Target("q#0", "a.md", EVIDENCE)]
    assert any_supported([Hit("c", "a.md", EVIDENCE)], targets, ["thirty days"])
    assert not any_supported([Hit("c", "a.md", "other part of a.md")], targets, ["thirty days"])

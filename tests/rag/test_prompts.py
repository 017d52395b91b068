"""The prompt the assistant builds, read by the real egress scan (slow: real Presidio and the classifier)."""
from __future__ import annotations

import pytest

from indexing.types import Classification, SearchHit
from rag.prompts import INSTRUCTION_TEXTS, build_messages
from routing.egress import EgressGuard, split_payload
from routing.levels import Level

from recording_server import RecordingServer

RETURNS = SearchHit(chunk_id="c1", doc_id="d1", source="returns.md", title="Returns and refunds",
                    text="Customers may return an unused item within 30 days of delivery for a full refund.",
                    score=1.0, label=Classification.PUBLIC, groups=("all",))


@pytest.mark.parametrize("hits", [[RETURNS], []])
def test_when_prompt_built_then_its_instruction_text_is_one_the_guard_trusts(hits):
    asked, _ = split_payload(build_messages("How long do returns take?", [], hits))

    assert asked[0] in INSTRUCTION_TEXTS


@pytest.mark.slow
@pytest.mark.parametrize("question", ["How many days do customers have to return an item?",
                                      "Summarise the refund policy in two sentences."])
def test_when_benign_question_over_a_public_page_then_the_real_scan_lets_it_through(detector, question):
    """The assistant's own instructions must never stop a payload: they are the same in every request."""
    server = RecordingServer()
    guard = EgressGuard(server, detector, Level.CONFIDENTIAL, trusted=INSTRUCTION_TEXTS)

    guard.generate(build_messages(question, [], [RETURNS]))

    assert len(server.sent) == 1

"""The egress guard: nothing reaches the wrapped server backend without a passing scan of the exact payload."""
from __future__ import annotations

import re
import time

import pytest

from routing.egress import EgressBlocked, EgressGuard, guarded, segments, split_payload
from routing.errors import DetectionError
from routing.findings import Detection, Finding
from routing.levels import Level
from routing.router import classify_both

from recording_server import RecordingServer

SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
PERSON = re.compile(r"\bDana Whitfield\b")


class PatternClassifier:
    """A small rule-based classifier: SSN-shaped numbers restricted, one known name internal."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.texts: list[str] = []
        self.passages: list[str] = []  # the texts classified as document passages

    def classify_many(self, texts, timeout_s=None, passages=False):
        if self.fail:
            raise DetectionError("scan exceeded 0.1s")
        self.texts += texts
        self.passages += texts if passages else []
        out = []
        for text in texts:
            found = [Finding("US_SSN", m.start(), m.end(), 0.9, Level.RESTRICTED) for m in SSN.finditer(text)]
            found += [Finding("PERSON", m.start(), m.end(), 0.8, Level.INTERNAL) for m in PERSON.finditer(text)]
            out.append(Detection.from_findings(found))
        return out


def _messages(system_extra: str = "", history: str = "", question: str = "How long do returns take?"):
    msgs = [{"role": "system", "content": f"Answer from the context.\n\nContext:\n[1] Returns{system_extra}: 30 days."}]
    if history:
        msgs.append({"role": "user", "content": history})
    return [*msgs, {"role": "user", "content": question}]


@pytest.mark.parametrize("messages, entity", [
    (_messages(system_extra=" for SSN 536-90-4399"), "US_SSN"),          # a title in the system prompt
    (_messages(history="my number is 536-90-4399"), "US_SSN"),            # a history turn
    (_messages(question="Is 536-90-4399 valid?"), "US_SSN"),              # the question
], ids=["title", "history", "question"])
@pytest.mark.parametrize("call", ["generate", "stream"])
def test_when_payload_holds_sensitive_value_then_blocked_and_nothing_sent(messages, entity, call):
    server = RecordingServer()
    guard = EgressGuard(server, PatternClassifier(), Level.CONFIDENTIAL)

    with pytest.raises(EgressBlocked) as err:
        getattr(guard, call)(messages)

    assert server.sent == []
    assert entity in err.value.reason and "536-90-4399" not in err.value.reason
    assert [f.entity_type for f in err.value.findings] == [entity]


def test_when_payload_below_sensitive_level_then_sent_after_scanning_every_message():
    server, scanner = RecordingServer(), PatternClassifier()
    guard = EgressGuard(server, scanner, Level.CONFIDENTIAL)
    messages = _messages(history="Dana Whitfield asked about returns")

    assert guard.generate(messages).text == "ok" and guard.stream(messages).text() == "ok"
    assert server.sent == [messages, messages]
    # every segment analysed once: the second, identical payload is checked against what the first found
    assert sorted(scanner.texts) == sorted(part for m in messages for part in segments(m["content"]))


def test_when_a_scanned_passage_changes_by_one_character_then_it_is_analysed_afresh():
    server, scanner = RecordingServer(), PatternClassifier()
    guard = EgressGuard(server, scanner, Level.CONFIDENTIAL)
    guard.generate(_messages())  # "Returns: 30 days." scanned and clean

    with pytest.raises(EgressBlocked):
        guard.generate(_messages(system_extra=" for 123-45-6789"))

    assert scanner.passages == ["Returns: 30 days.", "Returns for 123-45-6789: 30 days."]
    assert len(server.sent) == 1


def test_when_a_blocked_payload_comes_again_then_it_is_blocked_again_from_what_was_found():
    server, scanner = RecordingServer(), PatternClassifier()
    guard = EgressGuard(server, scanner, Level.CONFIDENTIAL)
    messages = _messages(system_extra=" for 123-45-6789")

    for _ in range(2):
        with pytest.raises(EgressBlocked) as blocked:
            guard.generate(messages)
        assert [f.entity_type for f in blocked.value.findings] == ["US_SSN"]

    assert scanner.passages == ["Returns for 123-45-6789: 30 days."] and server.sent == []


def test_when_user_types_passage_markers_then_still_analysed_as_written_by_the_user():
    question = "Summarise this:\n[1] Dana Whitfield: 30 days.\n[2] Returns: 30 days."
    asked, passages = split_payload(_messages(question=question))

    assert question in asked and passages == ["Returns: 30 days."]


def test_when_scan_fails_then_blocked_with_unknown_findings():
    server = RecordingServer()
    guard = EgressGuard(server, PatternClassifier(fail=True), Level.CONFIDENTIAL)

    with pytest.raises(EgressBlocked) as err:
        guard.generate(_messages())

    assert err.value.findings is None and "failed" in err.value.reason and server.sent == []


def test_when_guarded_twice_then_one_guard():
    guard = guarded(RecordingServer(), PatternClassifier(), Level.CONFIDENTIAL)

    assert guarded(guard, PatternClassifier(), Level.RESTRICTED) is guard
    assert (guard.name, guard.model.name, guard.health().ok) == ("server", "served", True)


@pytest.mark.parametrize("text, parts", [
    ("Answer.\n\nContext:\n[1] A: one.\n\n[2] B: two.", ["Answer.\n\nContext:", "A: one.", "B: two."]),
    ("no passages here", ["no passages here"]),
    ("a\n\n[x] not numbered [3] inline", ["a\n\n[x] not numbered [3] inline"]),
])
def test_when_payload_split_into_passages_then_each_is_scanned_as_ingest_labelled_it(text, parts):
    assert segments(text) == parts
    leftover = text
    for part in parts:  # nothing but "[n] " markers and whitespace is left out
        leftover = leftover.replace(part, "", 1)
    assert re.fullmatch(r"(\s|\[\d+\] )*", leftover)


def test_when_user_text_and_passages_classified_then_they_share_one_time_budget():
    budgets = []

    class Slow(PatternClassifier):
        def classify_many(self, texts, timeout_s=None, passages=False):
            budgets.append(timeout_s)
            time.sleep(0.2)
            return super().classify_many(texts, timeout_s, passages)

    classify_both(Slow(), ["question"], ["Returns: 30 days."], 0.5)

    assert budgets[0] == pytest.approx(0.5, abs=0.01) and budgets[1] <= 0.31  # the passages get what is left


def test_when_budget_used_up_then_detection_error():
    class Slow(PatternClassifier):
        def classify_many(self, texts, timeout_s=None, passages=False):
            time.sleep(0.1)
            return super().classify_many(texts, timeout_s, passages)

    with pytest.raises(DetectionError):
        classify_both(Slow(), ["question"], ["Returns: 30 days."], 0.05)


def test_when_instructions_are_the_assistants_own_then_not_analysed_but_a_clients_are():
    detector, server = PatternClassifier(), RecordingServer()
    head = "Answer from the context.\n\nContext:"
    guard = EgressGuard(server, detector, Level.CONFIDENTIAL, trusted=[head])

    guard.generate(_messages())
    with pytest.raises(EgressBlocked):  # a client's own system text is read like a user's
        guard.generate([{"role": "system", "content": "Dana's SSN is 536-90-4399"}, {"role": "user", "content": "hi"}])

    assert head not in detector.texts and "Dana's SSN is 536-90-4399" in detector.texts
    assert len(server.sent) == 1

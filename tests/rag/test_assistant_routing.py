"""The assistant's orchestration (pure logic): which backend is called, and what happens when one fails.

Retriever, detector and backends are small fakes here; the real stack is exercised by
tests/test_routing_safety_e2e.py and tests/rag/test_api_e2e.py.
"""
from __future__ import annotations

import threading
import time

import pytest

from indexing.types import Classification, SearchHit
from rag.assistant import Assistant
from rag.types import Principal
from routing.backends.base import BackendHealth, Generation, ModelInfo
from routing.errors import BackendUnavailable, DetectionError, RefusedError, SensitiveBackendDown
from routing.findings import Detection, Finding
from routing.levels import Level
from routing.policy import RoutingPolicy

READER = Principal("reader", ("all",))


class NoEmbedding:
    """A retriever that makes no query embedding (`embed_query` None), as in a lexical mode."""

    def embed_query(self, query, mode="all"):
        return None


class FakeRetriever(NoEmbedding):
    def __init__(self, label: Classification = Classification.PUBLIC) -> None:
        self.label = label

    def search(self, query, *, groups, k, mode):
        return [SearchHit(chunk_id="c1", doc_id="d1", source="a.md", title="A", text="Returns within 30 days.",
                          score=1.0, label=self.label, groups=("all",))]


class FakeDetector:
    """Flags any text containing 'SSN' as restricted; raises when asked to."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def classify_many(self, texts, timeout_s=None, passages=False):
        if self.fail:
            raise DetectionError("detector crashed")
        return [Detection.from_findings([Finding("US_SSN", 0, 3, 0.9, Level.RESTRICTED)] if "SSN" in t else [])
                for t in texts]

    def classify(self, text, timeout_s=None):
        return self.classify_many([text], timeout_s)[0]


class FakeBackend:
    def __init__(self, name: str, up: bool = True, fails: bool = False) -> None:
        self.name, self.up, self.fails, self.calls = name, up, fails, []

    @property
    def model(self):
        return ModelInfo(name=f"{self.name}-model")

    def health(self):
        return BackendHealth(self.up, "ok" if self.up else "down")

    def count_tokens(self, text):
        return len(text.split())

    def generate(self, messages, *, max_tokens=128, temperature=0.0, stop=None):
        self.calls.append(messages)
        if self.fails or not self.up:
            raise BackendUnavailable(f"{self.name} unreachable", backend=self.name)
        return Generation(f"answer from {self.name}", 10, 3, "stop", self.name, 0.01)


def _assistant(local: FakeBackend, server: FakeBackend, *, detector=None, label=Classification.PUBLIC,
               **policy) -> Assistant:
    return Assistant(FakeRetriever(label), detector or FakeDetector(), {"local": local, "server": server},
                     RoutingPolicy(**policy))


@pytest.mark.parametrize("question, label, expected", [
    ("How long do returns take?", Classification.PUBLIC, "server"),
    ("My SSN is 536-90-4399, can I return it?", Classification.PUBLIC, "local"),
    ("How long do returns take?", Classification.CONFIDENTIAL, "local"),
])
def test_when_question_or_context_is_sensitive_then_only_local_is_called(question, label, expected):
    local, server = FakeBackend("local"), FakeBackend("server")
    answer = _assistant(local, server, label=label).answer(question, READER)
    assert answer.route == expected
    assert answer.text == f"answer from {expected}"
    assert (len(local.calls), len(server.calls)) == ((1, 0) if expected == "local" else (0, 1))
    assert answer.citations[0].chunk_id == "c1" and answer.reasons


def test_when_detection_fails_then_request_stays_local():
    local, server = FakeBackend("local"), FakeBackend("server")
    answer = _assistant(local, server, detector=FakeDetector(fail=True)).answer("anything", READER)
    assert answer.route == "local" and not server.calls
    assert any("detection failed" in r for r in answer.reasons)


def test_when_sensitive_and_local_down_then_refused_and_server_never_called():
    local, server = FakeBackend("local", up=False), FakeBackend("server")
    with pytest.raises(SensitiveBackendDown) as err:
        _assistant(local, server).answer("My SSN is 536-90-4399", READER)
    assert not server.calls and not local.calls
    assert any("not sent to the server" in r for r in err.value.reasons)


def test_when_local_fails_mid_request_on_sensitive_prompt_then_refused_not_sent_to_server():
    local, server = FakeBackend("local", fails=True), FakeBackend("server")
    with pytest.raises(SensitiveBackendDown):
        _assistant(local, server).answer("My SSN is 536-90-4399", READER)
    assert len(local.calls) == 1 and not server.calls


def test_when_server_fails_mid_request_then_policy_reroutes_benign_prompt_to_local():
    local, server = FakeBackend("local"), FakeBackend("server", fails=True)
    answer = _assistant(local, server).answer("How long do returns take?", READER)
    assert answer.route == "local" and answer.text == "answer from local"
    assert len(server.calls) == 1 and len(local.calls) == 1
    assert any("server backend failed during generation" in r for r in answer.reasons)


def test_when_both_backends_fail_then_refused():
    local, server = FakeBackend("local", fails=True), FakeBackend("server", fails=True)
    with pytest.raises(RefusedError):
        _assistant(local, server).answer("How long do returns take?", READER)


STAMP = "detector-v1:test"


class StampedRetriever(NoEmbedding):
    """One passage whose stored label is current (stamp matches) and says public."""

    def __init__(self, title: str, text: str, findings: list | None = None) -> None:
        self.hit = SearchHit(chunk_id="c9", doc_id="d9", source="b.md", title=title, text=text, score=1.0,
                             label=Classification.PUBLIC, groups=("all",), findings=findings or [], label_stamp=STAMP)

    def search(self, query, *, groups, k, mode):
        return [self.hit]


def _stamped(local, server, retriever, detector=None) -> Assistant:
    return Assistant(retriever, detector or FakeDetector(), {"local": local, "server": server}, RoutingPolicy(),
                     label_stamp=STAMP)


def test_when_fresh_label_misses_what_the_payload_holds_then_egress_guard_bars_server():
    local, server = FakeBackend("local"), FakeBackend("server")
    answer = _stamped(local, server, StampedRetriever("SSN register", "Returns within 30 days.")).answer(
        "How long do returns take?", READER)

    assert answer.route == "local" and not server.calls and len(local.calls) == 1
    assert any(r.startswith("egress scan of the server-bound payload found US_SSN (restricted)") for r in answer.reasons)


def test_when_egress_guard_bars_server_and_local_down_then_sensitive_refusal():
    local, server = FakeBackend("local", up=False), FakeBackend("server")
    with pytest.raises(SensitiveBackendDown) as err:
        _stamped(local, server, StampedRetriever("SSN register", "Returns.")).answer("Returns?", READER)
    assert not server.calls and not local.calls
    assert any("egress scan" in r for r in err.value.reasons)


class ScanFailsDetector(FakeDetector):
    """Classifies the question, then fails: the egress scan of the payload fails."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def classify_many(self, texts, timeout_s=None, passages=False):
        self.calls += 1
        if self.calls > 1:
            raise DetectionError("egress scan timed out")
        return super().classify_many(texts, timeout_s)


def test_when_egress_scan_fails_then_server_barred():
    local, server = FakeBackend("local"), FakeBackend("server")
    answer = _stamped(local, server, StampedRetriever("Returns", "Within 30 days."), ScanFailsDetector()).answer(
        "How long do returns take?", READER)

    assert answer.route == "local" and not server.calls
    assert any("server-bound payload detection failed" in r for r in answer.reasons)


def test_when_label_is_fresh_then_passage_is_not_analysed_again():
    seen = []

    class Recording(FakeDetector):
        def classify_many(self, texts, timeout_s=None, passages=False):
            seen.append(list(texts))
            return super().classify_many(texts, timeout_s)

    local, server = FakeBackend("local"), FakeBackend("server")
    _stamped(local, server, StampedRetriever("Returns", "Within 30 days."), Recording()).answer("Returns?", READER)

    assert seen[0] == ["Returns?"]  # routing analysed only what the user wrote
    # then the egress scan of the payload: what the user wrote and the instructions, then the passages
    assert len(seen) == 3 and "Returns?" in seen[1] and any("Within 30 days." in t for t in seen[2])


def test_when_label_is_stale_then_passage_is_analysed_at_query_time():
    local, server = FakeBackend("local"), FakeBackend("server")
    retriever = StampedRetriever("Returns", "SSN 536-90-4399")
    retriever.hit.label_stamp = "older-detector:abc"
    answer = _stamped(local, server, retriever).answer("Returns?", READER)

    assert answer.route == "local" and not server.calls
    assert any(r.startswith("context contains US_SSN") for r in answer.reasons)


def test_when_history_turn_is_sensitive_then_kept_local():
    local, server = FakeBackend("local"), FakeBackend("server")
    history = [{"role": "user", "content": "my SSN is 536-90-4399"}, {"role": "assistant", "content": "Noted."}]
    answer = _assistant(local, server).answer("How long do returns take?", READER, history=history)

    assert answer.route == "local" and not server.calls


@pytest.mark.parametrize("history, question", [
    ([{"role": "user", "content": "x"}] * 21, "q"),
    ([{"role": "user", "content": "x" * 16_001}], "q"),
    ([{"role": "user", "content": "x" * 15_000}], "q" * 5_001),
])
def test_when_history_or_prompt_over_bounds_then_prompt_too_large_before_any_detection(history, question):
    from rag.errors import PromptTooLarge

    local, server = FakeBackend("local"), FakeBackend("server")
    with pytest.raises(PromptTooLarge) as err:
        _assistant(local, server, detector=FakeDetector(fail=True)).answer(question, READER, history=history)
    assert err.value.status_code == 413 and "limit" in str(err.value)
    assert not local.calls and not server.calls


def test_when_planned_then_nothing_generated_and_no_text_in_plan():
    local, server = FakeBackend("local"), FakeBackend("server")
    plan = _assistant(local, server).plan("My SSN is 536-90-4399, can I return it?", READER)

    assert (plan.route, plan.level) == ("local", "restricted")
    assert plan.chunks == [{"chunk_id": "c1", "doc_id": "d1", "label": "public"}]
    assert plan.findings[0]["entity_type"] == "US_SSN" and plan.prompt_tokens > 0
    assert "536-90-4399" not in str(plan.to_dict()) and "30 days" not in str(plan.to_dict())
    assert not local.calls and not server.calls


def test_when_planned_and_refused_then_plan_says_refuse():
    local, server = FakeBackend("local", up=False), FakeBackend("server")
    plan = _assistant(local, server).plan("My SSN is 536-90-4399", READER)

    assert plan.route == "refuse" and plan.chunks == []
    assert any("not sent to the server" in r for r in plan.reasons)


def test_when_sensitive_prompt_over_local_budget_then_passages_then_old_turns_dropped_and_reasons_say_so():
    local, server = FakeBackend("local"), FakeBackend("server")
    history = [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "ok"}]
    answer = _assistant(local, server, local_context_tokens=200).answer("My SSN is 536-90-4399?", READER,
                                                                         history=history)

    sent = local.calls[0]
    assert answer.route == "local" and answer.chunk_ids == [] and len(sent) == 3  # system, "ok", question
    assert any("dropped the 1 oldest history message(s)" in r for r in answer.reasons)
    assert not any("question alone" in r for r in answer.reasons)


class ThreeHits(FakeRetriever):
    def search(self, query, *, groups, k, mode):
        return [SearchHit(chunk_id=f"c{i}", doc_id=f"d{i}", source=f"{i}.md", title=f"T{i}", text=f"Passage {i}.",
                          score=1.0 / i, label=self.label, groups=("all",)) for i in (1, 2, 3)]


@pytest.mark.parametrize("question, caps, route, passages", [
    ("How long do returns take?", {"local": 2}, "server", ["c1", "c2", "c3"]),       # the cap is the local model's
    ("My SSN is 536-90-4399, returns?", {"local": 2}, "local", ["c1", "c2"]),        # best-ranked first
    ("My SSN is 536-90-4399, returns?", {"local": None, "server": 1}, "local", ["c1", "c2", "c3"]),
    ("How long do returns take?", {"server": 1}, "server", ["c1"]),
])
def test_when_route_model_has_max_passages_then_only_its_best_passages_are_sent(question, caps, route, passages):
    local, server = FakeBackend("local"), FakeBackend("server")
    assistant = Assistant(ThreeHits(), FakeDetector(), {"local": local, "server": server}, RoutingPolicy(),
                          max_passages=caps)
    answer = assistant.answer(question, READER)
    sent = (local.calls or server.calls)[0]
    assert answer.route == route and [c.chunk_id for c in answer.citations] == passages
    assert [f"[{n}] T{c[1:]}" in "".join(m["content"] for m in sent) for n, c in enumerate(passages, 1)] == [True] * len(passages)
    assert f"T{len(passages) + 1}:" not in "".join(m["content"] for m in sent)


class SignallingDetector(FakeDetector):
    """Signals when it starts analysing what the user wrote; can take `delay_s` per call."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.delay_s, self.user_text_started = delay_s, threading.Event()

    def classify_many(self, texts, timeout_s=None, passages=False):
        if not passages:
            self.user_text_started.set()
        time.sleep(self.delay_s)
        return super().classify_many(texts, timeout_s)


class WaitingRetriever(StampedRetriever):
    """Records whether the question was already being analysed when retrieval ran; takes `delay_s`."""

    def __init__(self, detector: SignallingDetector, delay_s: float = 0.0, stamp: str = STAMP) -> None:
        super().__init__("Register", "SSN 536-90-4399")
        self.hit.label_stamp = stamp
        self.detector, self.delay_s, self.overlapped = detector, delay_s, None

    def search(self, query, *, groups, k, mode):
        self.overlapped = self.detector.user_text_started.wait(5)
        time.sleep(self.delay_s)
        return super().search(query, groups=groups, k=k, mode=mode)


def test_when_answering_then_question_is_analysed_while_retrieval_runs():
    detector = SignallingDetector()
    retriever = WaitingRetriever(detector, stamp="older-detector:abc")  # a stale passage: analysed after
    answer = _stamped(FakeBackend("local"), FakeBackend("server"), retriever, detector).answer("Returns?", READER)

    assert retriever.overlapped is True
    assert answer.route == "local" and any(r.startswith("context contains US_SSN") for r in answer.reasons)
    assert {"retrieve", "route"} <= set(answer.latencies)


def test_when_retrieval_outlasts_the_detection_budget_then_stale_passage_fails_closed():
    detector = SignallingDetector()
    retriever = WaitingRetriever(detector, delay_s=0.2, stamp="older-detector:abc")
    assistant = Assistant(retriever, detector, {"local": FakeBackend("local"), "server": FakeBackend("server")},
                          RoutingPolicy(), label_stamp=STAMP, detection_timeout_s=0.1)

    answer = assistant.answer("How long do returns take?", READER)

    assert answer.route == "local" and any("detection failed" in r for r in answer.reasons)


def test_when_question_retrieved_then_detection_is_given_no_retrieval_vector():
    """Retrieval embeds with MiniLM, the personal-matter classifier with multilingual E5: the question's
    retrieval vector must never reach the detector (and `search` takes no vector: passing one is a TypeError)."""
    seen = {}

    class Embedding(FakeRetriever):
        def search(self, query, *, groups, k, mode):
            seen["retrieval"] = query
            return super().search(query, groups=groups, k=k, mode=mode)

    class Recording(FakeDetector):
        def classify_many(self, texts, timeout_s=None, passages=False, **extra):
            seen.setdefault("detection", (list(texts), extra))
            return super().classify_many(texts, timeout_s)

    local, server = FakeBackend("local"), FakeBackend("server")
    Assistant(Embedding(), Recording(), {"local": local, "server": server}, RoutingPolicy()).answer("Returns?", READER)

    assert seen == {"retrieval": "Returns?", "detection": (["Returns?"], {})}

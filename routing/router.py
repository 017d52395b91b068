"""The one routing entry point: evidence + prompt size + backend health -> `routing.policy.decide`.

`rag route`, `rag ask`, the API (`/v1/query`, `/v1/chat/completions`, `/v1/route`), `rag eval` and the
tests all route through `Router.route`; no other module calls `decide` (a test scans the packages).

What is analysed at query time is only what the user wrote (question and history); that does not depend
on the retrieved passages, so the assistant starts it (`Router.start`) before retrieval and hands the
`PendingDetection` to `Router.route`, which completes it. A retrieved
passage brings its stored label and findings summary (made at ingest over exactly the text that
reaches the prompt, title included); it is analysed again only when that label is stale (made by
another detector or configuration). The exact payload bound for the server is scanned once more by
`routing.egress.EgressGuard`, whose findings come back here as `egress_findings` with the server barred.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from routing.errors import DetectionError
from routing.findings import Detection, Finding
from routing.levels import Level
from routing.policy import Decision, RoutingPolicy, decide
from routing.prompt_tokens import count_message_tokens

Message = Mapping[str, str]
HealthProbe = Callable[[], Mapping[str, bool]]


class Classifier(Protocol):
    """What the router needs of a detector (`PresidioDetector` or `DetectionPool`)."""

    def classify_many(self, texts: Sequence[str], timeout_s: float | None = None,
                      passages: bool = False) -> list[Detection]: ...


@dataclass(frozen=True)
class ContextItem:
    """One passage that will reach the prompt, as the router sees it.

    Attributes:
        chunk_id: the chunk's id.
        text: the passage exactly as the prompt shows it ("title: text").
        label: its stored label (max of declared classification and detection at ingest).
        findings: its stored findings (no text), or None when the label is stale: analysed now.
    """

    chunk_id: str
    text: str
    label: Level
    findings: tuple[Finding, ...] | None = None


@dataclass(frozen=True)
class RouteRequest:
    """Everything the router judges: what the user wrote, the retrieved passages and the full prompt.

    Attributes:
        user_texts: the question and the history turns' contents (analysed at query time).
        messages: the chat prompt that would be sent (its size is counted).
        context: the retrieved passages in that prompt.
    """

    user_texts: tuple[str, ...]
    messages: tuple[Message, ...]
    context: tuple[ContextItem, ...] = ()

    @classmethod
    def for_text(cls, text: str) -> "RouteRequest":
        """A bare prompt: no history, no retrieved context (`rag route`, the routing eval suite)."""
        return cls((text,), ({"role": "user", "content": text},))


@dataclass(frozen=True)
class Evidence:
    """Findings behind a decision; None = detection failed or timed out (treated as sensitive)."""

    query: tuple[Finding, ...] | None
    context: tuple[Finding, ...] | None
    labels: Mapping[str, Level] = field(default_factory=dict)
    reanalysed: int = 0  # passages analysed at query time because their stored label was stale


@dataclass(frozen=True)
class Routed:
    """A decision with the evidence and prompt size it was made on."""

    decision: Decision
    evidence: Evidence
    prompt_tokens: int


class Router:
    """Routes requests: detection of user text, stored labels, one token counter, health, the policy.

    Args:
        detector: classifies text (`classify_many`); failures and timeouts count as sensitive.
        policy: the routing rules.
        health: returns {"local": bool, "server": bool}; a missing key is down.
        timeout_s: detection budget per request.
    """

    def __init__(self, detector: Classifier, policy: RoutingPolicy, health: HealthProbe,
                 timeout_s: float | None = None) -> None:
        self.detector = detector
        self.policy = policy
        self.health = health
        self.timeout_s = timeout_s

    def start(self, user_texts: Sequence[str]) -> "PendingDetection":
        """Start analysing what the user wrote (question, history) in the background, e.g. while retrieval
        runs; give the result to `route` as `evidence`. The request's one detection budget runs from here.
        """
        return PendingDetection(self.detector, user_texts, self.timeout_s)

    def route(self, request: RouteRequest, *, barred: Collection[str] = (),
              egress_findings: Sequence[Finding] | None = (),
              evidence: "Evidence | PendingDetection | None" = None) -> Routed:
        """Decide where `request` goes.

        Args:
            request: what would be sent.
            barred: backends that must not be used (treated as down), e.g. {"server"} after the egress guard.
            egress_findings: what the egress scan of the server-bound payload found (None: the scan failed).
            evidence: findings already gathered for this request (a re-route reuses them), or the detection
                of its user texts started by `start` (completed here, stale passages added).
        """
        if not isinstance(evidence, Evidence):
            evidence = self.evidence(request, evidence)
        tokens = count_message_tokens(request.messages)
        health = {name: bool(up) and name not in barred for name, up in self.health().items()}
        decision = decide(evidence.query, evidence.context, evidence.labels, tokens, health, self.policy,
                          egress_findings=egress_findings)
        return Routed(decision, evidence, tokens)

    def evidence(self, request: RouteRequest, started: "PendingDetection | None" = None) -> Evidence:
        """Analyse the user's texts (or complete their `started` analysis), and every stale passage as a
        passage, within one budget; stored findings for the rest. Any detection error fails closed."""
        if started is not None and started.texts != tuple(request.user_texts):
            raise ValueError("the started detection is of other texts than the request's user texts; "
                             "start it with exactly RouteRequest.user_texts")
        stale = [item.text for item in request.context if item.findings is None]
        labels = {item.chunk_id: item.label for item in request.context}
        pending = started or PendingDetection(self.detector, request.user_texts, self.timeout_s, background=False)
        try:
            asked, passages = pending.asked(), pending.passages(stale)
        except DetectionError:
            return Evidence(None, None, labels, len(stale))  # fail closed: decide() treats both as sensitive
        query = tuple(f for d in asked for f in d.findings)
        context = [f for d in passages for f in d.findings]
        context += [f for item in request.context if item.findings is not None for f in item.findings]
        return Evidence(query, tuple(context), labels, len(stale))


class PendingDetection:
    """What a user wrote, being classified (in the background unless `background` is False), and the one
    time budget of the request's detection, counted from construction.

    The user's texts get the whole budget (the detector enforces it, as in a direct `classify_many` call);
    document passages classified later (`passages`) get what is left of it.

    Args:
        detector: the classifier.
        texts: what the user wrote (question, history).
        timeout_s: the budget; None: the detector's own, per call.
        background: run the analysis on its own thread (True) or now, on the caller's (False).
    """

    def __init__(self, detector: Classifier, texts: Sequence[str], timeout_s: float | None, *,
                 background: bool = True) -> None:
        self.detector = detector
        self.texts = tuple(texts)
        self.timeout_s = timeout_s
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._result: Future[list[Detection]] = Future()
        if background and self.texts:
            threading.Thread(target=self._run, name="detect-user-texts", daemon=True).start()
        else:
            self._run()

    def asked(self) -> list[Detection]:
        """The user's texts' detections, once ready. Raises `DetectionError` as the detector did."""
        return self._result.result()

    def passages(self, texts: Sequence[str]) -> list[Detection]:
        """`texts` classified as document passages within what is left of the budget.

        Raises:
            DetectionError: as the detector does, or when no budget is left.
        """
        if not texts:
            return []
        left = None if self.deadline is None else self.deadline - time.monotonic()
        if left is not None and left <= 0:
            raise DetectionError(f"sensitivity detection exceeded {self.timeout_s:.1f}s; treated as sensitive")
        return self.detector.classify_many(texts, timeout_s=left, passages=True)

    def _run(self) -> None:
        try:
            found = self.detector.classify_many(list(self.texts), timeout_s=self.timeout_s) \
                if self.texts else []
        except BaseException as exc:  # noqa: BLE001 - re-raised to the caller of `asked` (DetectionError: fail closed)
            self._result.set_exception(exc)
        else:
            self._result.set_result(found)


def classify_both(detector: Classifier, asked: Sequence[str], passages: Sequence[str],
                  timeout_s: float | None) -> tuple[list[Detection], list[Detection]]:
    """What a user wrote, then document passages (read as passages), within one `timeout_s` budget for both
    (None: the detector's own). Raises `DetectionError` as the detector does, or when no budget is left."""
    pending = PendingDetection(detector, asked, timeout_s, background=False)
    return pending.asked(), pending.passages(passages)


def count_tokens(messages: Sequence[Message]) -> int:
    """The router's prompt size for `messages` (the callers that trim a prompt use the same count)."""
    return count_message_tokens(messages)


__all__ = ["Router", "RouteRequest", "ContextItem", "Evidence", "Routed", "Classifier", "PendingDetection",
           "classify_both", "count_tokens"]

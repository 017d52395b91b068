"""The egress guard: the server backend can only be called with a payload that has just passed a scan.

`EgressGuard` wraps the server backend. Its `generate` and `stream` first classify the exact
message contents they will send (system prompt with every title and passage, history, question; the
system prompt passage by passage, as ingest labelled them, in passage mode; see `split_payload`);
a finding at or above the policy's sensitive level, or a failed or timed-out scan, raises
`EgressBlocked` and nothing is sent. The caller (`rag.assistant.Assistant`) then asks the router
again with the server barred and the guard's findings as evidence: local, or a refusal.

Every segment of the payload is scanned by the guard's own detector, never taken from stored labels
(a stale or wrong stored label cannot let a passage through). The guard remembers what it found for
each exact text it scanned (by sha256, per reading mode, in a bounded LRU that holds no text), so the
same system instructions, question or passage met again in a later payload is not analysed twice;
any text that differs by one character is analysed afresh.
"""
from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from routing.backends.base import BackendHealth, Generation, GenerationBackend, GenerationStream, Message, ModelInfo
from routing.errors import DetectionError, RoutingError
from routing.findings import Detection, Finding
from routing.levels import Level
from routing.router import Classifier, classify_both


# A numbered passage starts a line: "\n[3] title: text". The scan analyses each passage on its own and exactly
# as ingest labelled it ("title: text", without the "[3] " numbering the prompt adds), so a current, correct
# stored label and the egress scan agree, and entities of unrelated passages are not combined by escalation
# rules. Only the numbering markers and the whitespace between passages are left out of the analysis.
_PASSAGE = re.compile(r"(?<=\n)\[\d+\] ")


def segments(text: str) -> list[str]:
    """`text` as the texts the scan analyses: the part before the first numbered passage, then each passage
    without its "[n] " marker; trailing whitespace stripped."""
    parts = _PASSAGE.split(text)
    return [p.rstrip() for p in parts if p.strip()] or [text]


def split_payload(messages: Sequence[Message]) -> tuple[list[str], list[str]]:
    """The payload's texts in two lists: what is analysed as written by a user (every history turn, the
    question, the system instructions) and the retrieved passages (the numbered parts of the system
    message, analysed as ingest labelled them). Only the system message, which the assistant builds,
    holds passages: a user who types "[1] ..." in a question is still analysed as a user."""
    asked: list[str] = []
    passages: list[str] = []
    for message in messages:
        content = str(message.get("content", ""))
        if message.get("role") == "system":
            head, *rest = segments(content)
            asked.append(head)
            passages.extend(rest)
        elif content.strip():
            asked.append(content)
    return asked, passages


class EgressBlocked(RoutingError):
    """The egress scan stopped a server-bound payload; nothing was sent.

    Attributes:
        findings: the findings at or above the sensitive level, or None when the scan failed or timed out.
        reason: a human-readable reason (entity types and levels, never text).
    """

    def __init__(self, reason: str, findings: tuple[Finding, ...] | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.findings = findings


class EgressGuard:
    """A `GenerationBackend` that scans every payload before handing it to the wrapped server backend.

    Args:
        backend: the server backend (OpenAI-compatible HTTP).
        detector: classifies the payload's texts.
        sensitive_level: findings at or above it stop the payload (the policy's `sensitive_level`).
        timeout_s: scan budget; past it the payload is stopped.
        trusted: texts the assistant itself writes into every payload (its instructions, exactly as built):
            not analysed. Anything else, a client's own system message included, is.
    """

    def __init__(self, backend: GenerationBackend, detector: Classifier, sensitive_level: Level,
                 timeout_s: float | None = None, trusted: Iterable[str] = ()) -> None:
        self.inner = backend
        self.trusted = frozenset(trusted)
        self.detector = detector
        self.sensitive_level = sensitive_level
        self.timeout_s = timeout_s
        self.name = backend.name
        self.scans = 0  # payloads scanned (for tests and figures)
        self.known = DetectionMemo()

    @property
    def model(self) -> ModelInfo:
        return self.inner.model

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    def warm_up(self) -> None:
        self.inner.warm_up()

    def health(self) -> BackendHealth:
        return self.inner.health()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
                 stop: Sequence[str] | None = None) -> Generation:
        """Scan `messages`, then generate on the server. Raises `EgressBlocked` instead of sending."""
        self.scan(messages)
        return self.inner.generate(messages, max_tokens=max_tokens, temperature=temperature, stop=stop)

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 128, temperature: float = 0.0,
               stop: Sequence[str] | None = None) -> GenerationStream:
        """Scan `messages`, then stream from the server. Raises `EgressBlocked` instead of sending."""
        self.scan(messages)
        return self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop)

    def scan(self, messages: Sequence[Message]) -> None:
        """Raise `EgressBlocked` unless every message content is below the sensitive level."""
        self.scans += 1
        asked, passages = split_payload(messages)
        asked = [t for t in asked if t not in self.trusted]
        known_asked, known_passages = self.known.recall(asked, False), self.known.recall(passages, True)
        new_asked = [t for t in dict.fromkeys(asked) if t not in known_asked]
        new_passages = [t for t in dict.fromkeys(passages) if t not in known_passages]
        try:
            found_asked, found_passages = classify_both(self.detector, new_asked, new_passages, self.timeout_s)
        except DetectionError as exc:
            raise EgressBlocked(f"egress scan of the server-bound payload failed ({exc}): server barred", None) from exc
        self.known.remember(new_asked, False, found_asked)
        self.known.remember(new_passages, True, found_passages)
        known_asked.update(zip(new_asked, found_asked))
        known_passages.update(zip(new_passages, found_passages))
        detections = [known_asked[t] for t in asked] + [known_passages[t] for t in passages]
        blocking = tuple(f for d in detections for f in d.findings if f.level >= self.sensitive_level)
        if blocking:
            kinds = ", ".join(sorted({f"{f.entity_type} ({f.level})" for f in blocking}))
            raise EgressBlocked(f"egress scan of the server-bound payload found {kinds} >= {self.sensitive_level}: "
                                "server barred", blocking)


class DetectionMemo:
    """Detections of exact texts, by sha256 and reading mode (user text or passage), least recently used
    first out. Thread-safe; holds no text."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[bool, str], Detection] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(text: str, passage: bool) -> tuple[bool, str]:
        return passage, hashlib.sha256(text.encode("utf-8")).hexdigest()

    def recall(self, texts: Sequence[str], passage: bool) -> dict[str, Detection]:
        """The remembered detections among `texts`, by text (the ones not in it are unknown)."""
        with self._lock:
            found = {}
            for text in texts:
                key = self._key(text, passage)
                if key in self._items:
                    self._items.move_to_end(key)
                    found[text] = self._items[key]
            return found

    def remember(self, texts: Iterable[str], passage: bool, detections: Iterable[Detection]) -> None:
        with self._lock:
            for text, detection in zip(texts, detections):
                key = self._key(text, passage)
                self._items[key] = detection
                self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def guarded(backend: GenerationBackend, detector: Classifier, sensitive_level: Level,
            timeout_s: float | None = None, trusted: Iterable[str] = ()) -> EgressGuard:
    """`backend` behind an `EgressGuard` (returned as is when it already is one)."""
    if isinstance(backend, EgressGuard):
        return backend
    return EgressGuard(backend, detector, sensitive_level, timeout_s, trusted)


__all__ = ["DetectionMemo", "EgressGuard", "EgressBlocked", "guarded", "segments", "split_payload"]

"""Values that cross the assistant's boundary: who asks, what they get back."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["employee", "knowledge_manager", "admin"]


@dataclass(frozen=True)
class Principal:
    """The caller, resolved from an API key (never from a client-supplied group name)."""

    name: str
    groups: tuple[str, ...]
    role: Role = "employee"


@dataclass(frozen=True)
class Citation:
    """A chunk the answer was grounded on."""

    doc_id: str
    source: str
    title: str
    chunk_id: str
    snippet: str


@dataclass
class Answer:
    """Everything the assistant returns for one question.

    `latencies` holds seconds per stage: retrieve, detect, route, generate, total.
    `findings` lists entity types and scores only, never the matched text.
    """

    request_id: str
    text: str
    citations: list[Citation]
    route: str
    reasons: list[str]
    level: str
    model: dict[str, Any]
    latencies: dict[str, float]
    usage: dict[str, int] = field(default_factory=dict)
    chunk_ids: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

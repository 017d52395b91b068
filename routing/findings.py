"""Plain values produced by detection and consumed by the policy. No Presidio here.

A `Finding` records *where* and *what kind* of sensitive data was found, never the text itself, so
findings can be logged, audited and returned by the API without leaking what they point at.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from routing.levels import Level, max_level


@dataclass(frozen=True)
class Finding:
    """One detected entity: its type, character span, score and the sensitivity level it implies.

    Attributes:
        entity_type: Presidio entity name, e.g. ``"US_SSN"`` or ``"EMPLOYEE_ID"``.
        start: start offset (characters) in the analysed text.
        end: end offset (exclusive).
        score: recognizer confidence in [0, 1] after context enhancement.
        level: sensitivity level of this finding (after escalation rules).
        recognizer: name of the recognizer that produced it.
        rule: name of the escalation rule that raised `level`, if any.
        topic: for a classifier finding (PERSONAL_MATTER), the topic it predicts ("health", ...).
    """

    entity_type: str
    start: int
    end: int
    score: float
    level: Level
    recognizer: str = ""
    rule: str | None = None
    topic: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready view (no text)."""
        out: dict[str, object] = {
            "entity_type": self.entity_type,
            "score": round(self.score, 3),
            "start": self.start,
            "end": self.end,
            "level": str(self.level),
        }
        if self.rule:
            out["rule"] = self.rule
        if self.topic:
            out["topic"] = self.topic
        return out

    @classmethod
    def from_dict(cls, data: "dict[str, object]") -> "Finding":
        """Rebuild a finding from `to_dict` output (a stored findings summary)."""
        return cls(entity_type=str(data["entity_type"]), start=int(data["start"]), end=int(data["end"]),  # type: ignore[arg-type]
                   score=float(data["score"]), level=Level.parse(str(data["level"])),  # type: ignore[arg-type]
                   rule=str(data["rule"]) if data.get("rule") else None)


@dataclass(frozen=True)
class Detection:
    """The classification of one text: its overall level and the findings that justify it."""

    level: Level
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> "Detection":
        """Build a detection whose level is the maximum level of `findings` (public if none)."""
        items = tuple(findings)
        return cls(level=max_level(f.level for f in items), findings=items)


__all__ = ["Finding", "Detection"]

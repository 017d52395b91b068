"""Secrets found by detect-secrets (Yelp's maintained plugin set), as spans of a text.

`find_secrets` runs the configured detect-secrets plugins (`SecretScanConfig.plugins`, declared in
routing/recognizers.yaml) line by line with its standard false-positive filters (UUIDs, sequential
strings, templated values such as ``${TOKEN}``, indirect references) and returns where each secret
value sits. `credential_recognizer` wraps it (and the other secret finders: seed phrases, dictated
secrets) as a Presidio recognizer of entity CREDENTIAL; placeholder values are dropped later by
`detection_config.keep_credential` like every CREDENTIAL finding.

detect-secrets keeps its settings in a process-global object: scans hold `_LOCK` and run inside
`transient_settings`, which restores the previous settings afterwards. Verification plugins
(network calls) are never enabled.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_LOCK = threading.Lock()
_FILTERS = [
    "detect_secrets.filters.heuristic.is_sequential_string",
    "detect_secrets.filters.heuristic.is_potential_uuid",
    "detect_secrets.filters.heuristic.is_likely_id_string",
    "detect_secrets.filters.heuristic.is_templated_secret",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_indirect_reference",
]


class SecretScanConfig(BaseModel):
    """The `secrets:` section of the recognizer config."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    score: float = Field(0.85, ge=0.0, le=1.0)
    max_line_chars: int = 2000
    min_entropy_chars: int = 20
    seed_phrase_words: int = Field(12, ge=0, description="A run of this many BIP-39 words is a wallet's "
                                   "recovery phrase (routing/seed_phrase.py); 0 turns that check off.")
    spoken_secret_markers: int = Field(1, ge=0, description="A secret word with this many dictation markers "
                                       "near it (spoken symbols, case words, NATO or single letters) is a "
                                       "secret read out (routing/spoken_secret.py); 0 turns that check off.")
    plugins: list[dict[str, Any]] = Field(default_factory=lambda: [
        {"name": "AWSKeyDetector"}, {"name": "BasicAuthDetector"}, {"name": "PrivateKeyDetector"},
        {"name": "JwtTokenDetector"}, {"name": "KeywordDetector"}, {"name": "GitHubTokenDetector"},
        {"name": "SlackDetector"}, {"name": "StripeDetector"}, {"name": "OpenAIDetector"},
        {"name": "Base64HighEntropyString", "limit": 4.5},
    ])


@dataclass(frozen=True)
class SecretSpan:
    start: int
    end: int
    kind: str


def find_secrets(text: str, config: SecretScanConfig) -> list[SecretSpan]:
    """Spans of secret values detect-secrets reports in `text` (every occurrence of each value)."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    spans: list[SecretSpan] = []
    settings = {"plugins_used": config.plugins, "filters_used": [{"path": p} for p in _FILTERS]}
    with _LOCK, transient_settings(settings):
        offset = 0
        for line in text.splitlines(keepends=True):
            if line.strip() and len(line) <= config.max_line_chars:
                for secret in scan_line(line.rstrip("\r\n")):
                    value = secret.secret_value or ""
                    if not _strong_enough(secret.type, value, config):
                        continue
                    spans += [SecretSpan(offset + i, offset + i + len(value), secret.type) for i in _all_indexes(line, value)]
            offset += len(line)
    return spans


def _strong_enough(kind: str, value: str, config: SecretScanConfig) -> bool:
    """Ad-hoc scans report every word to the high-entropy plugins without applying their limit
    (detect-secrets' "eager search"): apply it here, and ask for `min_entropy_chars` characters."""
    limits = {"Base64 High Entropy String": "Base64HighEntropyString", "Hex High Entropy String": "HexHighEntropyString"}
    if kind not in limits:
        return True
    limit = next((float(p.get("limit", 0)) for p in config.plugins if p.get("name") == limits[kind]), 0.0)
    return len(value) >= config.min_entropy_chars and shannon_entropy(value) > limit


def shannon_entropy(value: str) -> float:
    """Shannon entropy of the characters of `value`, in bits per character."""
    if not value:
        return 0.0
    counts = {ch: value.count(ch) for ch in set(value)}
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def _all_indexes(line: str, value: str) -> list[int]:
    if len(value) < 4:
        return []
    out, i = [], line.find(value)
    while i >= 0:
        out.append(i)
        i = line.find(value, i + len(value))
    return out


def credential_recognizer(name: str, find: Callable[[str], Iterable[tuple[int, int, str]]], score: float,
                          language: str, warm_up: Callable[[], object] | None = None) -> Any:
    """A Presidio recognizer reporting as CREDENTIAL the (start, end, secret type) spans `find` returns
    (detect-secrets' findings, seed phrases, dictated secrets); `warm_up` runs when Presidio loads it."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class CredentialRecognizer(EntityRecognizer):
        def load(self) -> None:
            if warm_up is not None:
                warm_up()

        def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001 - Presidio's signature
            if "CREDENTIAL" not in entities:
                return []
            return [RecognizerResult("CREDENTIAL", start, end, score,
                                     recognition_metadata={"recognizer_name": self.name, "secret_type": kind})
                    for start, end, kind in find(text)]

    return CredentialRecognizer(supported_entities=["CREDENTIAL"], name=name, supported_language=language)


__all__ = ["SecretScanConfig", "SecretSpan", "credential_recognizer", "find_secrets"]

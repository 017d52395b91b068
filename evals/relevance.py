"""Judging retrieved chunks against a query's relevance targets.

A `Target` is one thing a query needs: a whole document (`evidence` is None: SQuAD paragraphs, BEIR
documents) or a passage of one document (`evidence`: our data/ sets). The rule, applied to each hit:

* the hit's `source` must equal the target's `doc` (paths relative to the ingested folder);
* a document target is met by any chunk of that document;
* a passage target is met by a chunk whose normalised text contains the normalised evidence, or,
  when the evidence straddles a chunk boundary, contains its first or its last half (at least
  `MIN_PART_CHARS` characters). Normalisation: Unicode NFKC, curly quotes made straight, markdown
  emphasis marks removed, lowercase, whitespace collapsed.

Relevance is judged per *target*, not per chunk id: when chunk overlap puts the evidence in two
chunks, either one satisfies the target, so a system is not asked to return both. `rank_items` turns
hits into ranked item ids for `evals.metrics`: each target met is one item (at the rank of the first
hit that meets it), every other hit is its own non-relevant item, and repeats are dropped; for
document targets, non-relevant chunks are grouped by document (the usual BEIR practice).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

MIN_PART_CHARS = 20
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_MARKUP = re.compile(r"[*_`#>|]+")


class HitLike(Protocol):
    """What judging needs from a retrieved chunk (`indexing.types.SearchHit` has it)."""

    chunk_id: str
    source: str
    text: str


@dataclass(frozen=True)
class Target:
    """One relevant unit of a query: a document, or a passage (`evidence`) of it."""

    key: str
    doc: str
    evidence: str | None = None
    gain: int = 1


def normalize_text(text: str) -> str:
    """Normalise text for evidence matching (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return " ".join(_MARKUP.sub(" ", text).lower().split())


def normalize_source(source: str) -> str:
    """A source path in one spelling: forward slashes, no leading ``./``."""
    source = source.replace("\\", "/")
    while source.startswith("./"):
        source = source[2:]
    return source


def contains_evidence(text: str, evidence: str) -> bool:
    """True when `text` contains `evidence`, or its first or last half (boundary-straddling evidence)."""
    hay, needle = normalize_text(text), normalize_text(evidence)
    if not needle or needle in hay:
        return bool(needle)
    half = max(MIN_PART_CHARS, (len(needle) + 1) // 2)
    if half >= len(needle):
        return False
    return needle[:half] in hay or needle[-half:] in hay


def meets(target: Target, hit: HitLike) -> bool:
    """Whether `hit` satisfies `target` under the rule of this module."""
    if normalize_source(hit.source) != normalize_source(target.doc):
        return False
    return target.evidence is None or contains_evidence(hit.text, target.evidence)


def rank_items(hits: Iterable[HitLike], targets: Sequence[Target]) -> list[str]:
    """Ranked item ids for metric computation: met target keys and non-relevant hit ids, deduplicated."""
    by_document = all(t.evidence is None for t in targets)
    items: list[str] = []
    seen: set[str] = set()
    for hit in hits:
        keys = [t.key for t in targets if meets(t, hit)]
        if not keys:
            keys = [f"doc:{normalize_source(hit.source)}" if by_document else f"chunk:{hit.chunk_id}"]
        for key in keys:
            if key not in seen:
                seen.add(key)
                items.append(key)
    return items


def qrels_of(targets: Sequence[Target]) -> dict[str, int]:
    """The judgements of one query: target key -> gain."""
    return {t.key: t.gain for t in targets}


def any_supported(hits: Iterable[HitLike], targets: Sequence[Target], answers: Sequence[str] = ()) -> bool:
    """True when some hit meets a passage target, or is a chunk of a document target holding a gold answer.

    With no gold answers, any chunk of a document target counts.

    Used for citation accuracy: a citation is right when the cited chunk holds the evidence (our
    sets) or the gold answer in the gold document (SQuAD).
    """
    golds = [normalize_text(a) for a in answers if a.strip()]
    for hit in hits:
        text = normalize_text(hit.text)
        for target in targets:
            if normalize_source(hit.source) != normalize_source(target.doc):
                continue
            if target.evidence is not None:
                if contains_evidence(hit.text, target.evidence):
                    return True
            elif not golds or any(g in text for g in golds):
                return True
    return False

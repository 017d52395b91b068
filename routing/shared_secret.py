"""A credential shared in what a user wrote, when no pattern names it: a classifier and a value's shape.

The credential recognizers (routing/recognizers.yaml) need a password word next to the value, or a
value of a known vendor shape. People also share a secret without either: split over two lines ("the
FTP key in two parts / first: Cala252 / second: ..."), in two sentences ("it starts with Quokka#7. The
rest is ..."), or as a story ("i typed sunflower77 like always and it says incorrect"). A classifier
trained on labelled prompts (the personal-matter model's two views, the sentence embedding and word
n-grams, with one label: ``credential``) reads whether a text shares one; alone that is the topic, and
questions about passwords share the topic without a value ("how do I reset my vpn password?"). So a
finding needs both: the whole text scores at or above the threshold, and it holds a token shaped like a
typed secret (`value_candidates`); each such token is a finding.

The model is data (routing/credential_model.json), trained by `rag detect train-credentials` on the
dev and tuning routing sets (never data/heldout/): a prompt of kind ``secret`` is ``credential``,
every other prompt (benign, or sensitive of another kind) ``none``.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from routing.personal_matters import NONE  # the training code's negative label

LABEL = "credential"

_TOKEN = re.compile(r"[^\s\"'`()\[\]{}<>,;|]+")
# not a typed secret: a variable, URL, e-mail, assignment, path, host:port or key:value; a dotted name (a
# host, a file, a module); hex (a hash, a GUID, an error code); a version; a quantity with its unit; a
# name with a small index or a region ("worker-2", "eu-west-1"); capitals and digits only, a ticket, record
# or model code ("JIRA-48213", "INC0048812", "RT-AX58U"); a masked value; code syntax (a symbol only in front: "!token", "#channel", "^17")
_NOT_A_VALUE = re.compile(r"""
    [$%@=/\\:] | \.[^\W\d_] | \*{2,} | …
  | ^(?:0x)?[0-9a-fA-F-]+$
  | ^v?\d+(?:\.\d+)+
  | ^\d+(?:[.,]\d+)?[^\W\d_]{1,4}$
  | ^[a-z]+(?:-[a-z]+)*-\d{1,3}[a-z]?$
  | ^[A-Z0-9]+(?:-[A-Z0-9]+)*$
  | ^[!#^~+&*?][\w.-]+$
""", re.VERBOSE)
# a key's type right before the key itself ("ssh-ed25519 AAAAC3Nza...", "ecdsa-sha2-nistp256 AAAA..."): a public
# key's label, not a value
_KEY_FOLLOWS = re.compile(r"[ \t]+[A-Za-z0-9+/]{40,}")
_SYMBOLS = frozenset("!#$%&*^~?+")
_DOUBLE_MARK_END = re.compile(r"[!?]{2}$")
MIN_LEN, MAX_LEN = 6, 40


def value_candidates(text: str) -> list[tuple[int, int]]:
    """Spans of tokens shaped like a typed secret: 6 to 40 characters with a letter and a digit or a
    symbol (or a digit and a symbol), none of the shapes of `_NOT_A_VALUE`, and not a key's type before
    the key. A sentence's final full stop, question or exclamation mark is not part of the token
    ("sunflower77." "2291!!" keeps its two marks)."""
    spans = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        token = match.group()
        if not _DOUBLE_MARK_END.search(token):
            end -= len(token) - len(token.rstrip(".?!"))
            token = text[start:end]
        if not MIN_LEN <= len(token) <= MAX_LEN or _NOT_A_VALUE.search(token) or _KEY_FOLLOWS.match(text, end):
            continue
        letter = any(c.isalpha() for c in token)
        digit = any(c.isdigit() for c in token)
        symbol = any(c in _SYMBOLS for c in token)
        if (letter and (digit or symbol)) or (digit and symbol):
            spans.append((start, end))
    return spans


def routing_rows(paths: Sequence[str | Path]) -> tuple[list[dict[str, str]], str]:
    """Training rows from routing prompt files (``{"id", "text", "sensitive", "kind"}``): ``credential``
    for a sensitive prompt of kind ``secret``, ``none`` for every other; and one sha256 over the files."""
    rows: list[dict[str, str]] = []
    digest = hashlib.sha256()
    for path in paths:
        data = Path(path).read_bytes()
        digest.update(data)
        for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "text" not in row or "id" not in row:
                raise ValueError(f"{path}:{n}: a routing prompt needs an id and a text")
            secret = bool(row.get("sensitive")) and row.get("kind") == "secret"
            rows.append({"id": str(row["id"]), "text": str(row["text"]), "label": LABEL if secret else NONE})
    return rows, digest.hexdigest()


__all__ = ["LABEL", "NONE", "value_candidates", "routing_rows"]

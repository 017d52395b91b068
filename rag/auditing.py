"""The one way answers and refusals reach the audit log, for the API and the CLI alike.

`open_audit_log(settings)` opens the log with its HMAC secret, which lives apart from the database:
``RAG_AUDIT_SECRET`` (the environment) when set, else the file ``RAG_HOME/audit.key`` (created with mode
600 on first use; a file readable by group or others is refused). `record_answer` and `record_refusal`
write one record each, with the detector and policy versions in force and the egress scan when the
answer carries one.

Rotation: stop the service, move ``audit.key`` aside (keep it offline: it is needed to match old query
hashes), start again; a new key is created. Every record names its key (``query.key_id``).
"""
from __future__ import annotations

import hashlib
import os
import secrets
import stat
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.audit import AuditLog
from rag.config import Settings

SECRET_FILE = "audit.key"
NOT_RECORDED = "not recorded"


def new_request_id() -> str:
    """A fresh request id (the API's middleware and the CLI use the same form)."""
    return uuid.uuid4().hex


def operator() -> str:
    """Who runs a CLI command, for its audit records: ``cli:<login name>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli:unknown"


def load_secret(settings: Settings) -> bytes:
    """The audit HMAC key: ``RAG_AUDIT_SECRET`` or the mode-600 file ``RAG_HOME/audit.key`` (created if missing).

    Raises:
        PermissionError: the key file is readable by group or others (fix with ``chmod 600``).
    """
    if settings.audit_secret is not None and settings.audit_secret.get_secret_value():
        return settings.audit_secret.get_secret_value().encode("utf-8")
    path = settings.home / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _write_private(path, secrets.token_hex(32))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(f"the audit key {path} has mode {mode:o}; run `chmod 600 {path}`")
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def open_audit_log(settings: Settings) -> AuditLog:
    """The audit log of `settings`, keyed by `load_secret`; a legacy in-database salt is moved to a mode-600 file."""
    log = AuditLog(settings.audit_path, store_raw_text=settings.audit_store_raw_text, secret=load_secret(settings))
    salt = log.legacy_salt()
    if salt is not None:
        legacy = settings.home / "audit.legacy-salt"
        if not legacy.exists():
            _write_private(legacy, salt)
        log.drop_legacy_salt()
    return log


@lru_cache(maxsize=32)
def _file_version(path: str, mtime: float) -> str:
    del mtime  # part of the cache key only
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def file_version(path: Path) -> str | None:
    """``sha256:<12 hex>`` of a file's content (None when it is missing)."""
    try:
        return _file_version(str(path), path.stat().st_mtime)
    except OSError:
        return None


def versions_in_force(settings: Settings) -> dict[str, str | None]:
    """The detector version (recognizers file + spaCy model) and the policy version (policy file)."""
    recognizers = file_version(settings.recognizers_path)
    detector = f"{recognizers}+{settings.spacy_model}" if recognizers else None
    return {"detector_version": detector, "policy_version": file_version(settings.routing_policy_path)}


def _answer_value(answer: Any, name: str) -> Any:
    value = getattr(answer, name, None)
    if value is None and isinstance(getattr(answer, "model", None), Mapping):
        value = answer.model.get(name)
    return value


def _egress(answer: Any) -> dict[str, Any] | None:
    scan = _answer_value(answer, "egress_scan")
    if scan is None:
        return None
    if isinstance(scan, Mapping):
        return dict(scan)
    to_dict = getattr(scan, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {"result": str(scan)}


def record_answer(audit: AuditLog, *, request_id: str, user: str, endpoint: str, action: str, answer: Any,
                  query: str | None, versions: Mapping[str, str | None] | None = None,
                  model: Mapping[str, Any] | None = None, status: int = 200,
                  target: str | None = None) -> dict[str, Any]:
    """Audit one answered (or, with `status`, failed after routing) request.

    Args:
        answer: a `rag.types.Answer` (its egress scan and versions are used when it carries them).
        versions: `versions_in_force(settings)`; the answer's own values win.
        model: the model description to store (default: the answer's).
    """
    versions = dict(versions or {})
    return audit.append(
        request_id=request_id, user=user, endpoint=endpoint, action=action, status=status, route=answer.route,
        reasons=list(answer.reasons), model=dict(model if model is not None else answer.model or {}),
        chunk_ids=list(answer.chunk_ids) or [c.chunk_id for c in answer.citations],
        latencies=dict(answer.latencies), target=target, query=query, level=str(answer.level),
        detector_version=_answer_value(answer, "detector_version") or versions.get("detector_version"),
        policy_version=_answer_value(answer, "policy_version") or versions.get("policy_version"),
        egress_scan=_egress(answer))


def record_refusal(audit: AuditLog, *, request_id: str, user: str, endpoint: str, action: str, status: int,
                   query: str | None, reasons: Sequence[str] = (), route: str | None = "refuse",
                   versions: Mapping[str, str | None] | None = None, target: str | None = None) -> dict[str, Any]:
    """Audit one refused or failed request (nothing generated): status, reasons, the versions in force."""
    versions = dict(versions or {})
    return audit.append(request_id=request_id, user=user, endpoint=endpoint, action=action, status=status,
                        route=route if reasons else None, reasons=list(reasons), target=target, query=query,
                        detector_version=versions.get("detector_version"),
                        policy_version=versions.get("policy_version"))


def record_event(audit: AuditLog, *, user: str, endpoint: str, action: str, target: str | None,
                 reasons: Sequence[str] = (), request_id: str | None = None, status: int = 200) -> dict[str, Any]:
    """Audit an administrative change (user added, key revoked, log pruned, ...)."""
    return audit.append(request_id=request_id or new_request_id(), user=user, endpoint=endpoint, action=action,
                        status=status, reasons=list(reasons), target=target)

"""API keys mapped to users, groups and roles, stored hashed in SQLite.

A key is 32 random bytes (URL-safe base64, prefixed ``rag_``) shown once when the user is added.
Only its SHA-256 is stored: keys are high-entropy, so a plain hash cannot be brute-forced and no
slow KDF is needed. Identity comes only from the key; a client can never name its own groups.

Key lifecycle: each key has a creation time and an optional expiry; `revoke`, `rotate` (a new key,
the old one dead at once) and `expire` act immediately, because every request reads the store.
Each user may carry its own rate limits (requests per minute, concurrent generations); None means
the settings' defaults. Databases of older versions gain the new columns in place (`_migrate`).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import get_args

from rag.config import Settings
from rag.errors import Conflict, InvalidRequest, NotFound
from rag.types import Principal, Role

ROLES: tuple[str, ...] = get_args(Role)
KEY_PREFIX = "rag_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    groups TEXT NOT NULL,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
"""
_COLUMNS = {  # added to databases of older versions, in place
    "key_created_at": "TEXT",
    "expires_at": "TEXT",
    "revoked_at": "TEXT",
    "rate_limit_rpm": "INTEGER",
    "rate_limit_concurrent": "INTEGER",
}
_SELECT = ("SELECT name, groups, role, created_at, coalesce(key_created_at, created_at), expires_at, revoked_at, "
           "rate_limit_rpm, rate_limit_concurrent FROM users")


@dataclass(frozen=True)
class UserRecord:
    """A stored user (never the key)."""

    name: str
    groups: tuple[str, ...]
    role: str
    created_at: str
    key_created_at: str = ""
    expires_at: str | None = None
    revoked_at: str | None = None
    rate_limit_rpm: int | None = None
    rate_limit_concurrent: int | None = None

    def status(self, now: str | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= (now or utc_now()):
            return "expired"
        return "active"

    @property
    def principal(self) -> Principal:
        return Principal(name=self.name, groups=self.groups, role=self.role)  # type: ignore[arg-type]


def hash_key(key: str) -> str:
    """The stored form of an API key: its SHA-256 in hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_groups(groups: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise groups given as ``"a, b"`` or a list: stripped, de-duplicated, order kept.

    Raises:
        InvalidRequest: when no group remains or a group has characters other than letters,
            digits, ``-``, ``_`` and ``.``.
    """
    items = groups.split(",") if isinstance(groups, str) else list(groups)
    result = tuple(dict.fromkeys(g.strip() for g in items if g and g.strip()))
    if not result:
        raise InvalidRequest("give at least one group, e.g. --groups hr,finance", field="groups")
    for group in result:
        if not all(c.isalnum() or c in "-_." for c in group) or len(group) > 64:
            raise InvalidRequest(f"bad group name {group!r}: use letters, digits, '-', '_' or '.'", field="groups")
    return result


class UserStore:
    """Users and their hashed API keys in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            have = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
            for column, kind in _COLUMNS.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE users ADD COLUMN {column} {kind}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def add_user(self, name: str, groups: str | Iterable[str], role: str = "employee", *,
                 expires_at: str | None = None, rate_limit_rpm: int | None = None,
                 rate_limit_concurrent: int | None = None) -> str:
        """Create a user and return its new API key (shown once; only its hash is stored).

        Args:
            expires_at: ISO 8601 UTC time after which the key answers 401 (None: no expiry).
            rate_limit_rpm, rate_limit_concurrent: this user's limits (None: the settings' defaults).

        Raises:
            InvalidRequest: bad name, groups or role.
            Conflict: a user of that name exists (remove it first to issue a new key).
        """
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidRequest("give a user name of 1 to 128 characters", field="name")
        if role not in ROLES:
            raise InvalidRequest(f"unknown role {role!r}; use one of: {', '.join(ROLES)}", field="role")
        parsed = parse_groups(groups)
        _check_limits(rate_limit_rpm, rate_limit_concurrent)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        created = utc_now()
        try:
            with self._connect() as conn:
                conn.execute("INSERT INTO users (name, groups, role, key_hash, created_at, key_created_at, expires_at, "
                             "rate_limit_rpm, rate_limit_concurrent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (name, json.dumps(list(parsed)), role, hash_key(key), created, created,
                              parse_time(expires_at) if expires_at else None, rate_limit_rpm, rate_limit_concurrent))
        except sqlite3.IntegrityError:
            raise Conflict(f"user {name!r} exists; remove it first (`rag users remove {name}`)") from None
        return key

    def remove_user(self, name: str) -> None:
        """Delete a user; its key stops working at once. Raises NotFound for an unknown name."""
        with self._connect() as conn:
            if conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no user named {name!r}; `rag users list` shows them")

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal owning `key`, or None when the key is missing, unknown, revoked or expired."""
        record = self.record_for_key(key)
        return record.principal if record is not None and record.status() == "active" else None

    def record_for_key(self, key: str | None) -> UserRecord | None:
        """The user owning `key` whatever its status, or None."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 256:
            return None
        with self._connect() as conn:
            row = conn.execute(f"{_SELECT} WHERE key_hash = ?", (hash_key(key),)).fetchone()
        return _record(row) if row else None

    def get(self, name: str) -> UserRecord | None:
        """The user called `name`, or None."""
        with self._connect() as conn:
            row = conn.execute(f"{_SELECT} WHERE name = ?", (name,)).fetchone()
        return _record(row) if row else None

    def list_users(self) -> list[UserRecord]:
        """All users, by name."""
        with self._connect() as conn:
            rows = conn.execute(f"{_SELECT} ORDER BY name").fetchall()
        return [_record(r) for r in rows]

    def revoke(self, name: str) -> UserRecord:
        """Revoke the user's key now (401 from the next request). Raises NotFound for an unknown name."""
        return self._update(name, "revoked_at = ?", (utc_now(),))

    def rotate(self, name: str, *, expires_at: str | None = None) -> str:
        """Issue a new key for `name` (the old one stops at once) and return it; clears a revocation."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._update(name, "key_hash = ?, key_created_at = ?, revoked_at = NULL, expires_at = ?",
                     (hash_key(key), utc_now(), parse_time(expires_at) if expires_at else None))
        return key

    def expire(self, name: str, at: str | None = None) -> UserRecord:
        """Set the key's expiry to `at` (ISO 8601; default: now)."""
        return self._update(name, "expires_at = ?", (parse_time(at) if at else utc_now(),))

    def set_limits(self, name: str, rate_limit_rpm: int | None, rate_limit_concurrent: int | None) -> UserRecord:
        """Store the user's own limits (None: the settings' default)."""
        _check_limits(rate_limit_rpm, rate_limit_concurrent)
        return self._update(name, "rate_limit_rpm = ?, rate_limit_concurrent = ?",
                            (rate_limit_rpm, rate_limit_concurrent))

    def _update(self, name: str, assignments: str, params: tuple) -> UserRecord:
        with self._connect() as conn:
            if conn.execute(f"UPDATE users SET {assignments} WHERE name = ?", (*params, name)).rowcount == 0:
                raise NotFound(f"no user named {name!r}; `rag users list` shows them")
        return self.get(name)  # type: ignore[return-value]


def _record(row: tuple) -> UserRecord:
    return UserRecord(name=row[0], groups=tuple(json.loads(row[1])), role=row[2], created_at=row[3],
                      key_created_at=row[4], expires_at=row[5], revoked_at=row[6], rate_limit_rpm=row[7],
                      rate_limit_concurrent=row[8])


def utc_now() -> str:
    """Now in UTC, ISO 8601 to the second (the form every stored time has, so strings compare in order)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_time(value: str) -> str:
    """An ISO 8601 time (naive: UTC) in the stored form.

    Raises:
        InvalidRequest: the value is not ISO 8601 (e.g. 2027-01-31 or 2027-01-31T18:00:00+00:00).
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(f"bad time {value!r}: use ISO 8601, e.g. 2027-01-31 or 2027-01-31T18:00:00Z",
                             field="expires_at") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat(timespec="seconds")


def _check_limits(rpm: int | None, concurrent: int | None) -> None:
    for value, field in ((rpm, "rate_limit_rpm"), (concurrent, "rate_limit_concurrent")):
        if value is not None and value < 0:
            raise InvalidRequest(f"{field} must be 0 (unlimited) or more, not {value}", field=field)


def groups_for(settings: Settings, name: str) -> tuple[str, ...]:
    """The groups of user `name` in the users store of `settings` (used by `rag search --user`).

    Raises:
        NotFound: when there is no such user.
    """
    record = UserStore(settings.users_path).get(name)
    if record is None:
        raise NotFound(f"no user named {name!r}; add one with `rag users add {name} --groups G1,G2`")
    return record.groups

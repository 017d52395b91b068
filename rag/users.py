"""API keys mapped to users, groups and roles, stored hashed in SQLite.

A key is 32 random bytes (URL-safe base64, prefixed ``rag_``) shown once when the user is added.
Only its SHA-256 is stored: keys are high-entropy, so a plain hash cannot be brute-forced and no
slow KDF is needed. Identity comes only from the key; a client can never name its own groups.
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


@dataclass(frozen=True)
class UserRecord:
    """A stored user (never the key)."""

    name: str
    groups: tuple[str, ...]
    role: str
    created_at: str

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

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def add_user(self, name: str, groups: str | Iterable[str], role: str = "employee") -> str:
        """Create a user and return its new API key (shown once; only its hash is stored).

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
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            with self._connect() as conn:
                conn.execute("INSERT INTO users (name, groups, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                             (name, json.dumps(list(parsed)), role, hash_key(key), created))
        except sqlite3.IntegrityError:
            raise Conflict(f"user {name!r} exists; remove it first (`rag users remove {name}`)") from None
        return key

    def remove_user(self, name: str) -> None:
        """Delete a user; its key stops working at once. Raises NotFound for an unknown name."""
        with self._connect() as conn:
            if conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no user named {name!r}; `rag users list` shows them")

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal owning `key`, or None when the key is missing or unknown."""
        if not key or not key.startswith(KEY_PREFIX) or len(key) > 256:
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT name, groups, role, created_at FROM users WHERE key_hash = ?",
                               (hash_key(key),)).fetchone()
        return _record(row).principal if row else None

    def get(self, name: str) -> UserRecord | None:
        """The user called `name`, or None."""
        with self._connect() as conn:
            row = conn.execute("SELECT name, groups, role, created_at FROM users WHERE name = ?", (name,)).fetchone()
        return _record(row) if row else None

    def list_users(self) -> list[UserRecord]:
        """All users, by name."""
        with self._connect() as conn:
            rows = conn.execute("SELECT name, groups, role, created_at FROM users ORDER BY name").fetchall()
        return [_record(r) for r in rows]


def _record(row: tuple) -> UserRecord:
    return UserRecord(name=row[0], groups=tuple(json.loads(row[1])), role=row[2], created_at=row[3])


def groups_for(settings: Settings, name: str) -> tuple[str, ...]:
    """The groups of user `name` in the users store of `settings` (used by `rag search --user`).

    Raises:
        NotFound: when there is no such user.
    """
    record = UserStore(settings.users_path).get(name)
    if record is None:
        raise NotFound(f"no user named {name!r}; add one with `rag users add {name} --groups G1,G2`")
    return record.groups

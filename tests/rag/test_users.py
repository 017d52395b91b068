"""Users store: keys shown once and stored hashed, identity only from the key."""
from __future__ import annotations

import sqlite3

import pytest

from rag.config import Settings
from rag.errors import Conflict, InvalidRequest, NotFound
from rag.types import Principal
from rag.users import UserStore, groups_for, hash_key, parse_groups


@pytest.fixture()
def store(tmp_path):
    return UserStore(tmp_path / "users.sqlite3")


def test_when_user_added_then_key_authenticates_to_principal(store):
    key = store.add_user("alice", "hr, finance", "knowledge_manager")
    assert store.authenticate(key) == Principal("alice", ("hr", "finance"), "knowledge_manager")


def test_when_key_stored_then_only_its_hash_is_on_disk(store):
    key = store.add_user("alice", ["hr"], "employee")
    raw = store.path.read_bytes()
    assert key.encode() not in raw
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT key_hash FROM users").fetchone()[0] == hash_key(key)


def test_when_two_users_added_then_keys_differ_and_are_long(store):
    first, second = store.add_user("a", ["x"]), store.add_user("b", ["x"])
    assert first != second and len(first) >= 40


@pytest.mark.parametrize("key", [None, "", "rag_", "rag_wrong", "not-a-key", "x" * 1000])
def test_when_key_unknown_then_authenticate_is_none(store, key):
    store.add_user("alice", ["hr"])
    assert store.authenticate(key) is None


def test_when_user_removed_then_key_stops_working(store):
    key = store.add_user("alice", ["hr"])
    store.remove_user("alice")
    assert store.authenticate(key) is None
    with pytest.raises(NotFound):
        store.remove_user("alice")


def test_when_name_taken_then_conflict(store):
    store.add_user("alice", ["hr"])
    with pytest.raises(Conflict, match="exists"):
        store.add_user("alice", ["it"])


@pytest.mark.parametrize("name, groups, role, field", [
    ("", ["hr"], "employee", "name"),
    ("bob", [], "employee", "groups"),
    ("bob", " , ", "employee", "groups"),
    ("bob", ["h r"], "employee", "groups"),
    ("bob", ["hr"], "superuser", "role"),
])
def test_when_input_bad_then_invalid_request_names_field(store, name, groups, role, field):
    with pytest.raises(InvalidRequest) as info:
        store.add_user(name, groups, role)
    assert info.value.field == field


def test_when_groups_repeated_then_deduplicated_in_order():
    assert parse_groups("hr, it,hr ,finance") == ("hr", "it", "finance")


def test_when_listing_then_users_sorted_without_keys(store):
    store.add_user("zoe", ["it"], "admin")
    store.add_user("adam", ["hr"])
    listed = store.list_users()
    assert [u.name for u in listed] == ["adam", "zoe"]
    assert listed[1].role == "admin" and not hasattr(listed[1], "key_hash")


def test_when_groups_for_named_user_then_its_groups(tmp_path):
    settings = Settings(home=tmp_path)
    UserStore(settings.users_path).add_user("alice", ["hr", "all"])
    assert groups_for(settings, "alice") == ("hr", "all")
    with pytest.raises(NotFound, match="rag users add"):
        groups_for(settings, "nobody")


# --- issue 12: key lifecycle, limits, migration -----------------------------------------------------


def test_when_key_revoked_then_authentication_fails_at_once_and_rotate_issues_a_working_key(store):
    key = store.add_user("alice", ["hr"])
    record = store.revoke("alice")
    assert record.status() == "revoked" and store.authenticate(key) is None
    assert store.record_for_key(key).name == "alice"  # known, but not accepted
    new_key = store.rotate("alice")
    assert new_key != key and store.authenticate(new_key).name == "alice" and store.authenticate(key) is None
    assert store.get("alice").status() == "active"


@pytest.mark.parametrize("expires_at, active", [
    ("2000-01-01", False), ("2999-01-01T00:00:00Z", True), ("2999-01-01T01:00:00+01:00", True),
])
def test_when_key_has_expiry_then_active_only_before_it(store, expires_at, active):
    key = store.add_user("alice", ["hr"], expires_at=expires_at)
    assert (store.authenticate(key) is not None) is active
    assert store.get("alice").status() == ("active" if active else "expired")


def test_when_expire_without_time_then_key_stops_now(store):
    key = store.add_user("alice", ["hr"])
    store.expire("alice")
    assert store.authenticate(key) is None and store.get("alice").expires_at


@pytest.mark.parametrize("call", [lambda s: s.revoke("nobody"), lambda s: s.rotate("nobody"),
                                  lambda s: s.expire("nobody"), lambda s: s.set_limits("nobody", 1, 1)])
def test_when_lifecycle_on_unknown_user_then_not_found(store, call):
    with pytest.raises(NotFound, match="rag users list"):
        call(store)


@pytest.mark.parametrize("kwargs, field", [({"expires_at": "next tuesday"}, "expires_at"),
                                           ({"rate_limit_rpm": -1}, "rate_limit_rpm")])
def test_when_lifecycle_input_bad_then_invalid_request(store, kwargs, field):
    with pytest.raises(InvalidRequest) as info:
        store.add_user("alice", ["hr"], **kwargs)
    assert info.value.field == field


def test_when_limits_set_then_stored_with_user(store):
    store.add_user("alice", ["hr"], rate_limit_rpm=10)
    assert (store.get("alice").rate_limit_rpm, store.get("alice").rate_limit_concurrent) == (10, None)
    store.set_limits("alice", None, 2)
    assert (store.get("alice").rate_limit_rpm, store.get("alice").rate_limit_concurrent) == (None, 2)


def test_when_old_users_database_opened_then_migrated_in_place_and_keys_still_work(tmp_path):
    path = tmp_path / "users.sqlite3"
    key = "rag_" + "k" * 43
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT PRIMARY KEY, groups TEXT NOT NULL, role TEXT NOT NULL, "
                     "key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)")
        conn.execute("INSERT INTO users VALUES ('old', '[\"hr\"]', 'admin', ?, '2025-01-01T00:00:00+00:00')",
                     (hash_key(key),))
    store = UserStore(path)
    assert store.authenticate(key) == Principal("old", ("hr",), "admin")
    record = store.get("old")
    assert record.key_created_at == "2025-01-01T00:00:00+00:00" and record.expires_at is None
    assert record.status() == "active"

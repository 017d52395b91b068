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

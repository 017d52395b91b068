"""`rag users add|list|remove|revoke|rotate|expire|limits`: API keys and their lifecycle.

Every change is written to the audit log (endpoint ``cli:users``, the user's name as target). A
revoked or expired key answers 401 from the next request: the API reads the users store each time.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click

from rag.cli import common


@click.group("users")
def users_group() -> None:
    """Manage API users: each key maps to a user, groups, a role, an expiry and rate limits."""


def _users():
    from rag.users import UserStore

    return UserStore(common.settings().users_path)


def _audit(action: str, name: str, reasons: list[str]) -> None:
    from rag.auditing import open_audit_log, operator, record_event

    record_event(open_audit_log(common.settings()), user=operator(), endpoint="cli:users", action=action,
                 target=name, reasons=reasons)


def _expiry(expires_at: str | None, expires_in_days: float | None) -> str | None:
    if expires_at and expires_in_days is not None:
        common.fail("give --expires-at or --expires-in-days, not both")
    if expires_in_days is not None:
        return (datetime.now(timezone.utc) + timedelta(days=expires_in_days)).isoformat(timespec="seconds")
    return expires_at


def _run(fn, *args, **kwargs):
    """Call a store method; a ServiceError becomes one line on stderr and exit 2 (bad input) or 1 (unknown user)."""
    from rag.errors import NotFound, ServiceError

    try:
        return fn(*args, **kwargs)
    except ServiceError as exc:
        common.fail(exc.message, 1 if isinstance(exc, NotFound) else 2)


def _row(u) -> dict:
    return {"name": u.name, "groups": list(u.groups), "role": u.role, "status": u.status(),
            "created_at": u.created_at, "key_created_at": u.key_created_at, "expires_at": u.expires_at,
            "revoked_at": u.revoked_at, "rate_limit_rpm": u.rate_limit_rpm,
            "rate_limit_concurrent": u.rate_limit_concurrent}


_expires_at = click.option("--expires-at", help="ISO 8601 UTC time when the key stops working (default: never).")
_expires_in = click.option("--expires-in-days", type=click.FloatRange(min=0), help="Days until the key stops working.")


@users_group.command("add")
@click.argument("name")
@click.option("--groups", required=True, help="Comma-separated groups, e.g. hr,finance.")
@click.option("--role", default="employee", show_default=True,
              type=click.Choice(["employee", "knowledge_manager", "admin"]))
@_expires_at
@_expires_in
@click.option("--rpm", type=click.IntRange(min=0), help="Requests per minute (default: RAG_RATE_LIMIT_RPM; 0: no limit).")
@click.option("--concurrent", type=click.IntRange(min=0),
              help="Concurrent generations (default: RAG_RATE_LIMIT_CONCURRENT; 0: no limit).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_add_cmd(name: str, groups: str, role: str, expires_at: str | None, expires_in_days: float | None,
                  rpm: int | None, concurrent: int | None, as_json: bool) -> None:
    """Create a user and print its API key ONCE (only a hash is stored)."""
    store = _users()
    key = _run(store.add_user, name, groups, role, expires_at=_expiry(expires_at, expires_in_days),
               rate_limit_rpm=rpm, rate_limit_concurrent=concurrent)
    record = store.get(name)
    _audit("user.add", name, [f"role {role}", f"groups {','.join(record.groups)}"])
    payload = {**_row(record), "api_key": key}
    common.emit(payload, as_json, f"user {name} ({role}; groups: {', '.join(record.groups)}"
                                  f"{'; expires ' + record.expires_at if record.expires_at else ''})\n"
                                  f"API key (shown once, store it now): {key}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_list_cmd(as_json: bool) -> None:
    """List users with groups, role, key status, creation and expiry, limits (never keys)."""
    users = _users().list_users()
    text = "\n".join(f"{u.name:<20} {u.role:<18} {u.status():<8} key {u.key_created_at} "
                     f"expires {u.expires_at or 'never'}  rpm {u.rate_limit_rpm if u.rate_limit_rpm is not None else '-'} "
                     f"concurrent {u.rate_limit_concurrent if u.rate_limit_concurrent is not None else '-'}  "
                     f"{','.join(u.groups)}" for u in users) or "no users yet"
    common.emit([_row(u) for u in users], as_json, text)


@users_group.command("remove")
@click.argument("name")
def users_remove_cmd(name: str) -> None:
    """Delete a user; its key stops working at once."""
    _run(_users().remove_user, name)
    _audit("user.remove", name, [])
    click.echo(f"removed user {name}")


@users_group.command("revoke")
@click.argument("name")
def users_revoke_cmd(name: str) -> None:
    """Revoke the user's key now (401 from the next request); `rotate` issues a new one."""
    record = _run(_users().revoke, name)
    _audit("user.revoke", name, [f"revoked at {record.revoked_at}"])
    click.echo(f"revoked the key of {name}")


@users_group.command("rotate")
@click.argument("name")
@_expires_at
@_expires_in
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_rotate_cmd(name: str, expires_at: str | None, expires_in_days: float | None, as_json: bool) -> None:
    """Issue a new key for NAME (printed once); the old key stops working at once."""
    store = _users()
    key = _run(store.rotate, name, expires_at=_expiry(expires_at, expires_in_days))
    record = store.get(name)
    _audit("user.rotate", name, [f"new key created at {record.key_created_at}"])
    common.emit({**_row(record), "api_key": key}, as_json, f"new API key for {name} (shown once): {key}")


@users_group.command("expire")
@click.argument("name")
@click.option("--at", "at", help="ISO 8601 UTC time (default: now).")
def users_expire_cmd(name: str, at: str | None) -> None:
    """Set when NAME's key expires (default: now, which disables it at once)."""
    record = _run(_users().expire, name, at)
    _audit("user.expire", name, [f"expires at {record.expires_at}"])
    click.echo(f"the key of {name} expires at {record.expires_at}")


@users_group.command("limits")
@click.argument("name")
@click.option("--rpm", type=click.IntRange(min=0), help="Requests per minute (0: no limit; omit: default).")
@click.option("--concurrent", type=click.IntRange(min=0), help="Concurrent generations (0: no limit; omit: default).")
def users_limits_cmd(name: str, rpm: int | None, concurrent: int | None) -> None:
    """Set NAME's rate limits (an omitted limit falls back to the settings' default)."""
    record = _run(_users().set_limits, name, rpm, concurrent)
    _audit("user.limits", name, [f"rpm {rpm if rpm is not None else 'default'}",
                                 f"concurrent {concurrent if concurrent is not None else 'default'}"])
    click.echo(f"limits of {name}: rpm {record.rate_limit_rpm if record.rate_limit_rpm is not None else 'default'}, "
               f"concurrent {record.rate_limit_concurrent if record.rate_limit_concurrent is not None else 'default'}")


def register(cli: click.Group) -> None:
    """Add `users` to the `rag` command."""
    cli.add_command(users_group)

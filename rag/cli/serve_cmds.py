"""`rag serve`, `rag users ...` and `rag audit ...`: run the HTTP service and govern it."""
from __future__ import annotations

import sys

import click

from rag.cli import common


@click.command("serve")
@click.option("--host", default=None, help="Interface to bind (default: Settings.host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: Settings.port, 8000).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve_cmd(host: str | None, port: int | None, log_level: str) -> None:
    """Serve the HTTP API with uvicorn (models load once at start-up)."""
    import uvicorn

    from rag.api import create_app

    settings = common.settings()
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level=log_level,
                access_log=False)  # the access log would print paths only; the audit log has the rest


# --- users -----------------------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Manage API users: each key maps to a user, groups and a role."""


def _users():
    from rag.users import UserStore

    return UserStore(common.settings().users_path)


@users_group.command("add")
@click.argument("name")
@click.option("--groups", required=True, help="Comma-separated groups, e.g. hr,finance.")
@click.option("--role", default="employee", show_default=True,
              type=click.Choice(["employee", "knowledge_manager", "admin"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_add_cmd(name: str, groups: str, role: str, as_json: bool) -> None:
    """Create a user and print its API key ONCE (only a hash is stored)."""
    from rag.errors import ServiceError

    store = _users()
    try:
        key = store.add_user(name, groups, role)
    except ServiceError as exc:
        common.fail(exc.message)
        return
    record = store.get(name)
    payload = {"name": name, "groups": list(record.groups), "role": role, "api_key": key}
    common.emit(payload, as_json, f"user {name} ({role}; groups: {', '.join(record.groups)})\n"
                                  f"API key (shown once, store it now): {key}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_list_cmd(as_json: bool) -> None:
    """List users with their groups and roles (never keys)."""
    users = _users().list_users()
    rows = [{"name": u.name, "groups": list(u.groups), "role": u.role, "created_at": u.created_at} for u in users]
    text = "\n".join(f"{u.name:<20} {u.role:<18} {','.join(u.groups)}" for u in users) or "no users yet"
    common.emit(rows, as_json, text)


@users_group.command("remove")
@click.argument("name")
def users_remove_cmd(name: str) -> None:
    """Delete a user; its key stops working at once."""
    from rag.errors import ServiceError

    try:
        _users().remove_user(name)
    except ServiceError as exc:
        common.fail(exc.message, 1)
        return
    click.echo(f"removed user {name}")


# --- audit -----------------------------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """Inspect and verify the hash-chained audit log."""


def _audit():
    from rag.audit import AuditLog

    settings = common.settings()
    if not settings.audit_path.exists():
        common.fail(f"no audit log at {settings.audit_path}; it is created by `rag serve` (check RAG_HOME)", 1)
    return AuditLog(settings.audit_path)


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_verify_cmd(as_json: bool) -> None:
    """Check the whole hash chain; exit 1 naming the first bad record when it was tampered with."""
    result = _audit().check()
    payload = {"ok": result.ok, "records": result.records, "first_bad_seq": result.first_bad_seq,
               "reason": result.reason}
    if result.ok:
        common.emit(payload, as_json, f"audit log intact: {result.records} records")
        return
    common.emit(payload, as_json, f"audit log TAMPERED: record {result.first_bad_seq}: {result.reason}")
    sys.exit(1)


@audit_group.command("tail")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(min=0), help="Records to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_tail_cmd(count: int, as_json: bool) -> None:
    """The last records, oldest first."""
    records = _audit().tail(count)
    lines = [f"{r['seq']:>6} {r['time']} {r['user']:<14} {r['action']:<7} {r['status']} "
             f"route={r['route'] or '-'} chunks={len(r['chunk_ids'])} "
             f"model={r['model'].get('name', '-')} request={r['request_id']}" for r in records]
    common.emit(records, as_json, "\n".join(lines) or "no records yet")


def register(cli: click.Group) -> None:
    """Add `serve`, `users` and `audit` to the `rag` command."""
    cli.add_command(serve_cmd)
    cli.add_command(users_group)
    cli.add_command(audit_group)

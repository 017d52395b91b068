"""`rag audit verify|tail|anchor|report|prune`: check, inspect, anchor, report on and prune the audit log."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from rag.cli import common


@click.group("audit")
def audit_group() -> None:
    """Inspect, verify, anchor, report on and prune the hash-chained audit log."""


def _audit():
    from rag.auditing import open_audit_log

    settings = common.settings()
    if not settings.audit_path.exists():
        common.fail(f"no audit log at {settings.audit_path}; it is created by `rag serve` (check RAG_HOME)", 1)
    try:
        return open_audit_log(settings)
    except PermissionError as exc:
        common.fail(str(exc), 1)


def _read_anchor(value: str) -> tuple[int, str]:
    from rag.audit import parse_anchor

    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        return parse_anchor(text)
    except (OSError, ValueError) as exc:
        common.fail(f"--anchor: {exc}")
        raise  # unreachable: fail exits


@audit_group.command("verify")
@click.option("--anchor", "anchor", help="An anchor from `rag audit anchor`: its file, or SEQ:HASH. Catches "
                                         "truncated or rewritten newest records.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_verify_cmd(anchor: str | None, as_json: bool) -> None:
    """Check the whole hash chain; exit 1 naming the first bad record when it was tampered with."""
    expected = _read_anchor(anchor) if anchor else None
    result = _audit().check(anchor=expected)
    payload = {"ok": result.ok, "records": result.records, "first_bad_seq": result.first_bad_seq,
               "reason": result.reason, "head_seq": result.head_seq, "pruned_through": result.pruned_through,
               "anchor_seq": expected[0] if expected else None}
    if result.ok:
        suffix = f"; matches the anchor at record {expected[0]}" if expected else ""
        common.emit(payload, as_json, f"audit log intact: {result.records} records{suffix}")
        return
    common.emit(payload, as_json, f"audit log TAMPERED: record {result.first_bad_seq}: {result.reason}")
    sys.exit(1)


@audit_group.command("anchor")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the anchor (JSON) to this file; keep it somewhere the log's writers cannot reach.")
def audit_anchor_cmd(out: Path | None) -> None:
    """Print the head of the log (seq, hash, record count) as JSON, to check later with `verify --anchor`."""
    log = _audit()
    check = log.check()
    if not check.ok:
        common.fail(f"the log does not verify (record {check.first_bad_seq}: {check.reason}); not anchoring it", 1)
    anchor = log.anchor()
    text = json.dumps(anchor)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    click.echo(text)


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


def _time(value: str | None, option: str) -> str | None:
    from rag.errors import InvalidRequest
    from rag.users import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except InvalidRequest as exc:
        common.fail(f"{option}: {exc.message}")


@audit_group.command("report")
@click.option("--since", help="ISO 8601 start, inclusive (e.g. 2026-11-01).")
@click.option("--until", help="ISO 8601 end, exclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_report_cmd(since: str | None, until: str | None, as_json: bool) -> None:
    """Requests by route, level and model version; server requests with detector/policy versions and
    egress scan; refusals and reasons; chain breaks and gaps. Exit 1 when the chain is broken."""
    from rag.audit_report import build_report, render_text

    report = build_report(_audit(), _time(since, "--since"), _time(until, "--until"))
    common.emit(report, as_json, render_text(report))
    if not report["chain"]["ok"]:
        sys.exit(1)


@audit_group.command("prune")
@click.option("--older-than-days", type=click.FloatRange(min=0),
              help="Delete records older than this (default: RAG_AUDIT_RETENTION_DAYS).")
@click.option("--raw-older-than-days", type=click.FloatRange(min=0),
              help="Delete stored raw query text older than this (default: RAG_AUDIT_RAW_TEXT_RETENTION_DAYS).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_prune_cmd(older_than_days: float | None, raw_older_than_days: float | None, as_json: bool) -> None:
    """Delete expired records, leaving a checkpoint record with the hash of the last one pruned (the chain
    still verifies). Anchor again afterwards if your anchors are older than the cut."""
    from rag.auditing import operator

    settings = common.settings()
    now = datetime.now(timezone.utc)
    days = settings.audit_retention_days if older_than_days is None else older_than_days
    raw_days = settings.audit_raw_text_retention_days if raw_older_than_days is None else raw_older_than_days
    cut = (now - timedelta(days=days)).isoformat(timespec="milliseconds")
    raw_cut = (now - timedelta(days=min(raw_days, days))).isoformat(timespec="milliseconds")
    try:
        result = _audit().prune(cut, raw_before=raw_cut, user=operator())
    except ValueError as exc:
        common.fail(str(exc), 1)
        return
    common.emit({**result, "before": cut, "raw_before": raw_cut}, as_json,
                f"pruned {result['pruned']} record(s) before {cut} and {result['raw_pruned']} raw text(s) before "
                f"{raw_cut}" + (f"; checkpoint is record {result['checkpoint']}" if result["checkpoint"] else ""))


def register(cli: click.Group) -> None:
    """Add `audit` to the `rag` command."""
    cli.add_command(audit_group)

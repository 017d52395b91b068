"""The audit report of a period: what an auditor asks for, computed from the audit log alone.

For ``since <= time < until``: generation requests by route, level and model version; for every
request sent to the server, the detector and policy versions in force and whether its egress scan was
clean (``not recorded`` where the record does not say); refusals and their reasons; other actions;
and the state of the hash chain (a break, records missing inside the period, pruning checkpoints).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from rag.audit import CHECKPOINT_ACTION, AuditLog
from rag.auditing import NOT_RECORDED

GENERATION_ACTIONS = ("query", "chat")


def egress_state(scan: Any) -> str:
    """``clean``, ``not clean`` or ``not recorded`` for a record's ``egress_scan`` value."""
    if not scan:
        return NOT_RECORDED
    if isinstance(scan, Mapping):
        for key in ("clean", "ok", "passed"):
            if key in scan:
                return "clean" if scan[key] else "not clean"
        result = str(scan.get("result") or scan.get("status") or "").lower()
        if result:
            return "clean" if result in ("clean", "ok", "pass", "passed") else "not clean"
        if "findings" in scan:
            return "not clean" if scan["findings"] else "clean"
    return NOT_RECORDED


def _model_version(record: Mapping[str, Any]) -> str:
    model = record.get("model") or {}
    if not model:
        return NOT_RECORDED
    return f"{model.get('name', '?')}@{model.get('version') or NOT_RECORDED}"


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The report's body from records (pure: no database), so it can be checked against known requests."""
    records = list(records)
    generation = [r for r in records if r["action"] in GENERATION_ACTIONS]
    answered = [r for r in generation if r["status"] == 200]
    server = [r for r in generation if r.get("route") == "server"]
    refusals = [r for r in records if r.get("route") == "refuse" or (r["action"] in GENERATION_ACTIONS
                                                                     and r["status"] >= 400)]
    return {
        "records": len(records),
        "requests": {
            "total": len(generation), "answered": len(answered),
            "by_route": dict(Counter(r.get("route") or "none" for r in generation)),
            "by_level": dict(Counter(r.get("level") or NOT_RECORDED for r in generation)),
            "by_model_version": dict(Counter(_model_version(r) for r in answered)),
            "by_status": {str(k): v for k, v in Counter(r["status"] for r in generation).items()},
        },
        "server_requests": [{
            "seq": r["seq"], "time": r["time"], "request_id": r["request_id"], "user": r["user"],
            "status": r["status"], "detector_version": r.get("detector_version") or NOT_RECORDED,
            "policy_version": r.get("policy_version") or NOT_RECORDED, "egress_scan": egress_state(r.get("egress_scan")),
        } for r in server],
        "refusals": {
            "total": len(refusals),
            "by_reason": dict(Counter(reason for r in refusals for reason in (r.get("reasons") or ["(no reason given)"]))),
            "by_status": {str(k): v for k, v in Counter(r["status"] for r in refusals).items()},
            "items": [{"seq": r["seq"], "request_id": r["request_id"], "user": r["user"], "status": r["status"],
                       "action": r["action"], "reasons": r.get("reasons") or []} for r in refusals],
        },
        "other_actions": dict(Counter(r["action"] for r in records if r["action"] not in GENERATION_ACTIONS)),
        "checkpoints": [dict(r["pruned"], seq=r["seq"]) for r in records
                        if r["action"] == CHECKPOINT_ACTION and r.get("pruned")],
        "gaps": _gaps(records),
    }


def _gaps(records: list[Mapping[str, Any]]) -> list[dict[str, int]]:
    seqs = [r["seq"] for r in records]
    return [{"after": a, "before": b, "missing": b - a - 1} for a, b in zip(seqs, seqs[1:]) if b != a + 1]


def build_report(log: AuditLog, since: str | None = None, until: str | None = None) -> dict[str, Any]:
    """The report of `log` for ``since <= time < until`` (ISO 8601; None: unbounded), chain check included."""
    check = log.check()
    body = summarize(log.records(since, until))
    body["period"] = {"since": since, "until": until}
    body["chain"] = {"ok": check.ok, "records": check.records, "first_bad_seq": check.first_bad_seq,
                     "reason": check.reason, "head_seq": check.head_seq, "pruned_through": check.pruned_through}
    server = body["server_requests"]
    body["server_summary"] = {
        "total": len(server),
        "versions_recorded": sum(1 for s in server if NOT_RECORDED not in (s["detector_version"], s["policy_version"])),
        "egress_clean": sum(1 for s in server if s["egress_scan"] == "clean"),
        "egress_not_clean": sum(1 for s in server if s["egress_scan"] == "not clean"),
        "egress_not_recorded": sum(1 for s in server if s["egress_scan"] == NOT_RECORDED),
    }
    return body


def render_text(report: Mapping[str, Any]) -> str:
    """The report as plain lines for the terminal."""
    req, chain, server = report["requests"], report["chain"], report["server_summary"]
    period = report["period"]
    lines = [f"audit report {period['since'] or 'start'} .. {period['until'] or 'now'}: {report['records']} records",
             f"chain: {'intact' if chain['ok'] else 'BROKEN at record ' + str(chain['first_bad_seq']) + ': ' + chain['reason']}"
             + (f" (pruned through {chain['pruned_through']})" if chain["pruned_through"] else ""),
             f"requests: {req['total']} ({req['answered']} answered)",
             "  by route: " + _pairs(req["by_route"]), "  by level: " + _pairs(req["by_level"]),
             "  by model version: " + _pairs(req["by_model_version"]),
             f"server requests: {server['total']}; versions recorded {server['versions_recorded']}; egress clean "
             f"{server['egress_clean']}, not clean {server['egress_not_clean']}, not recorded {server['egress_not_recorded']}"]
    lines += [f"  #{s['seq']} {s['time']} {s['user']} detector={s['detector_version']} policy={s['policy_version']} "
              f"egress={s['egress_scan']}" for s in report["server_requests"]]
    lines.append(f"refusals: {report['refusals']['total']}")
    lines += [f"  {n} x {reason}" for reason, n in report["refusals"]["by_reason"].items()]
    lines.append("other actions: " + _pairs(report["other_actions"]))
    lines += [f"gap: {g['missing']} record(s) missing between {g['after']} and {g['before']}" for g in report["gaps"]]
    return "\n".join(lines)


def _pairs(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "-"

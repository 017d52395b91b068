"""`rag route`: show how the assistant would route a prompt (classification + decision, no generation).

`rag ask` (retrieve -> classify -> route -> generate) is added to this module by the lead; see the
marked section at the end of the file.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from rag.cli import common


def _inputs(text: str | None, file: Path | None) -> Iterable[str]:
    if text is not None:
        yield text
        return
    stream = file.open(encoding="utf-8") if file else sys.stdin
    try:
        for line in stream:
            if line.strip():
                yield line.rstrip("\n")
    finally:
        if file:
            stream.close()


def route_one(detector, policy, text: str, health: dict[str, bool], timeout_s: float | None) -> dict:
    """Classify `text` and decide its route; the result holds findings' positions, never the text."""
    from routing.errors import DetectionError
    from routing.policy import decide
    from routing.prompt_tokens import estimate_tokens

    try:
        findings = detector.detect(text, timeout_s=timeout_s)
    except DetectionError:
        findings = None  # fail closed: decide() treats it as sensitive
    decision = decide(findings, [], [], estimate_tokens(text), health, policy)
    return {
        "route": decision.route,
        "level": str(decision.level),
        "findings": [f.to_dict() for f in findings or []],
        "reasons": list(decision.reasons),
    }


@click.command("route")
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Route each non-empty line of this file (default: TEXT, else stdin lines).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input line.")
@click.option("--local-down", is_flag=True, help="Pretend the local backend is down (demonstrates refusals).")
@click.option("--server-down", is_flag=True, help="Pretend the server backend is down.")
def route_cmd(text: str | None, file: Path | None, as_json: bool, local_down: bool, server_down: bool) -> None:
    """Classify prompts and print the routing decision, without generating anything.

    Backends are assumed healthy (no health check is made) unless --local-down/--server-down say
    otherwise; no retrieved context is involved, so only the prompt itself is judged.
    Output never contains the prompt text: only entity types, scores, offsets and reasons.
    """
    from rag.runtime import Runtime
    from routing.policy import RoutingPolicy

    if text is not None and file is not None:
        common.fail("give TEXT or --file, not both")
    runtime = Runtime(common.settings())
    policy = RoutingPolicy.from_yaml(runtime.settings.routing_policy_path)
    health = {"local": not local_down, "server": not server_down}
    detector = runtime.detector
    for line in _inputs(text, file):
        result = route_one(detector, policy, line, health, runtime.settings.detection_timeout_s)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            found = ", ".join(f"{f['entity_type']}({f['level']}, {f['score']})" for f in result["findings"]) or "-"
            click.echo(f"{result['route']:<7} {result['level']:<12} {found}")
            for reason in result["reasons"]:
                click.echo(f"        - {reason}")


def register(cli: click.Group) -> None:
    """Add this module's commands to the `rag` group."""
    cli.add_command(route_cmd)
    cli.add_command(ask_cmd)


@click.command("ask")
@click.argument("question")
@click.option("--user", "user", help="Answer as this user (groups from the users store); default: --groups.")
@click.option("--groups", "groups", default="all", show_default=True, help="Comma-separated groups when no --user.")
@click.option("-k", "top_k", type=click.IntRange(1, 50), default=None, help="Chunks to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
def ask_cmd(question: str, user: str | None, groups: str, top_k: int | None, as_json: bool) -> None:
    """Answer QUESTION: retrieve -> detect -> route -> generate, with citations, route and reasons.

    Exit codes: 0 answered, 2 bad input (unknown user, empty question), 3 refused by the routing
    policy (e.g. sensitive and the local model is down: nothing was sent to the server), 1 other failure.
    """
    from rag.auditing import new_request_id, open_audit_log, record_answer, record_refusal, versions_in_force
    from rag.errors import NotFound, to_service_error
    from rag.runtime import Runtime
    from rag.types import Principal
    from rag.users import groups_for
    from routing.errors import RefusedError, RoutingError

    if not question.strip():
        common.fail("the question is empty")
    runtime = Runtime(common.settings())
    try:
        principal = Principal(user, groups_for(runtime.settings, user)) if user else \
            Principal("cli", tuple(g.strip() for g in groups.split(",") if g.strip()))
    except NotFound as exc:
        common.fail(str(exc))
    audit, versions, request_id = open_audit_log(runtime.settings), versions_in_force(runtime.settings), new_request_id()
    record = {"request_id": request_id, "user": principal.name, "endpoint": "cli:ask", "action": "query",
              "query": question, "versions": versions}
    try:
        answer = runtime.assistant.answer(question, principal, top_k=top_k, request_id=request_id)
    except RoutingError as exc:
        record_refusal(audit, **record, status=to_service_error(exc).status_code, reasons=getattr(exc, "reasons", ()))
        if isinstance(exc, RefusedError):
            common.fail(str(exc), code=3)
        common.fail(f"{exc} ({'retry later' if exc.is_retryable else 'not retryable'})", code=1)
    record_answer(audit, **record, answer=answer)
    if as_json:
        common.emit(answer.to_dict(), True)
        return
    click.echo(answer.text or "(empty answer)")
    click.echo("")
    for i, c in enumerate(answer.citations, start=1):
        click.echo(f"[{i}] {c.source} ({c.chunk_id}): {c.snippet[:100]}")
    click.echo(f"route: {answer.route} ({answer.model.get('name', '?')}), level: {answer.level}")
    for reason in answer.reasons:
        click.echo(f"  - {reason}")

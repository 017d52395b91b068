"""`rag ask`: retrieve -> classify -> route -> generate, with citations, route and reasons (or `--dry-run`)."""
from __future__ import annotations

import click

from rag.cli import common


@click.command("ask")
@click.argument("question")
@common.reader_options
@click.option("-k", "top_k", type=click.IntRange(1, 50), default=None, help="Chunks to retrieve.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent where (route, level, reasons, chunk ids "
                                              "and labels, prompt tokens); generate nothing, print no text.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer (or plan) as JSON.")
def ask_cmd(question: str, user: str | None, groups: str | None, top_k: int | None, dry_run: bool,
            as_json: bool) -> None:
    """Answer QUESTION: retrieve -> detect -> route -> generate, with citations, route and reasons.

    Exit codes: 0 answered (or planned), 2 bad input (unknown user, empty or too long question), 3 refused
    by the routing policy (e.g. sensitive and the local model is down: nothing was sent to the server),
    1 other failure. Every answer and refusal is audited with the request id it printed.
    """
    from rag.auditing import new_request_id, open_audit_log, record_answer, record_refusal, versions_in_force
    from rag.errors import to_service_error
    from rag.runtime import Runtime
    from rag.types import Principal
    from routing.errors import RoutingError

    if not question.strip():
        common.fail("the question is empty")
    settings = common.settings().model_copy(update={"detection_workers": 0})  # one question: detect in-process
    principal = Principal(user or "cli", common.reader_groups(settings, user, groups))
    runtime = Runtime(settings)
    if dry_run:
        _print_plan(runtime.assistant.plan(question, principal, top_k=top_k).to_dict(), as_json)
        return
    audit, request_id = open_audit_log(settings), new_request_id()
    record = {"request_id": request_id, "user": principal.name, "endpoint": "cli:ask", "action": "query",
              "query": question, "versions": versions_in_force(settings)}
    try:
        answer = runtime.assistant.answer(question, principal, top_k=top_k, request_id=request_id)
    except RoutingError as exc:  # audited, then reported by the group's one-line failure handler
        record_refusal(audit, **record, status=to_service_error(exc).status_code, reasons=getattr(exc, "reasons", ()))
        raise
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


def _print_plan(plan: dict, as_json: bool) -> None:
    if as_json:
        common.emit(plan, True)
        return
    click.echo(f"route: {plan['route']}, level: {plan['level']}, prompt tokens: {plan['prompt_tokens']}")
    for chunk in plan["chunks"]:
        click.echo(f"  chunk {chunk['chunk_id']} ({chunk['label']})")
    for f in plan["findings"]:
        click.echo(f"  found {f['entity_type']} in {f['where']} [{f['start']}:{f['end']}] ({f['level']}, {f['score']})")
    for reason in plan["reasons"]:
        click.echo(f"  - {reason}")


def register(cli: click.Group) -> None:
    """Add `ask` to the `rag` group."""
    cli.add_command(ask_cmd)

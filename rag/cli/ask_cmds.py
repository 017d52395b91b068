"""`rag ask`: retrieve -> classify -> route -> generate, with citations, route and reasons (or `--dry-run`)."""
from __future__ import annotations

import click

from rag.cli import common


@click.command("ask")
@click.argument("question")
@click.option("--user", "user", help="Answer as this user (groups from the users store); default: --groups.")
@click.option("--groups", "groups", default="all", show_default=True, help="Comma-separated groups when no --user.")
@click.option("-k", "top_k", type=click.IntRange(1, 50), default=None, help="Chunks to retrieve.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent where (route, level, reasons, chunk ids "
                                              "and labels, prompt tokens); generate nothing, print no text.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer (or plan) as JSON.")
def ask_cmd(question: str, user: str | None, groups: str, top_k: int | None, dry_run: bool, as_json: bool) -> None:
    """Answer QUESTION: retrieve -> detect -> route -> generate, with citations, route and reasons.

    Exit codes: 0 answered (or planned), 2 bad input (unknown user, empty or too long question), 3 refused
    by the routing policy (e.g. sensitive and the local model is down: nothing was sent to the server),
    1 other failure.
    """
    from rag.audit import AuditLog
    from rag.errors import NotFound, ServiceError
    from rag.runtime import Runtime
    from rag.types import Principal
    from rag.users import groups_for
    from routing.errors import RefusedError, RoutingError

    if not question.strip():
        common.fail("the question is empty")
    runtime = Runtime(common.settings().model_copy(update={"detection_workers": 0}))  # one question: in-process
    try:
        principal = Principal(user, groups_for(runtime.settings, user)) if user else \
            Principal("cli", tuple(g.strip() for g in groups.split(",") if g.strip()))
    except NotFound as exc:
        common.fail(str(exc))
    try:
        if dry_run:
            _print_plan(runtime.assistant.plan(question, principal, top_k=top_k).to_dict(), as_json)
            return
        answer = runtime.assistant.answer(question, principal, top_k=top_k)
    except ServiceError as exc:  # e.g. PromptTooLarge
        common.fail(str(exc))
    except RefusedError as exc:
        audit = AuditLog(runtime.settings.audit_path, store_raw_text=runtime.settings.audit_store_raw_text)
        audit.append(request_id="cli", user=principal.name, endpoint="cli:ask", action="query", status=503,
                     route="refuse", reasons=exc.reasons, query=question)
        common.fail(str(exc), code=3)
    except RoutingError as exc:
        common.fail(f"{exc} ({'retry later' if exc.is_retryable else 'not retryable'})", code=1)
    audit = AuditLog(runtime.settings.audit_path, store_raw_text=runtime.settings.audit_store_raw_text)
    audit.append(request_id=answer.request_id, user=principal.name, endpoint="cli:ask", action="query", status=200,
                 route=answer.route, reasons=answer.reasons, model=answer.model, chunk_ids=answer.chunk_ids,
                 latencies=answer.latencies, query=question)
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
    """Add this module's commands to the `rag` group."""
    cli.add_command(ask_cmd)

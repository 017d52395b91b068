"""`rag route`: show how the assistant would route a prompt (classification + decision, no generation).

It goes through the same `routing.router.Router` as `rag ask`, the API and `rag eval`.
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


def route_one(router, text: str) -> dict:
    """Route `text` through `router` (`routing.router.Router`); the result holds findings' positions, never the text."""
    from routing.router import RouteRequest

    routed = router.route(RouteRequest.for_text(text))
    decision = routed.decision
    return {
        "route": decision.route,
        "level": str(decision.level),
        "findings": [f.to_dict() for f in routed.evidence.query or []],
        "reasons": list(decision.reasons),
        "prompt_tokens": routed.prompt_tokens,
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

    if text is not None and file is not None:
        common.fail("give TEXT or --file, not both")
    runtime = Runtime(common.settings())
    router = runtime.router({"local": not local_down, "server": not server_down})
    for line in _inputs(text, file):
        result = route_one(router, line)
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

"""Helpers shared by the CLI command modules: settings, JSON output, error exits."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from rag.config import Settings

# Command modules, each with `register(cli: click.Group)`. Order is the order in `rag --help`.
COMMAND_MODULES = ("index_cmds", "route_cmds", "graph_cmds", "serve_cmds", "eval_cmds", "bench_cmds", "vllm_cmds",
                   "models_cmds")


def settings() -> Settings:
    """The settings for this invocation (environment + .env), with the active model profile applied.

    A malformed models.yaml or an unknown profile exits with status 2 and one line."""
    from rag.registry import RegistryError, resolve_settings

    try:
        return resolve_settings(Settings())
    except (RegistryError, ValueError) as exc:
        fail(str(exc), 2)
        raise  # unreachable: fail() exits


def emit(obj: Any, as_json: bool, text: str | None = None) -> None:
    """Print `obj` as JSON when `as_json`, otherwise `text` (or a readable dump of obj)."""
    if as_json:
        click.echo(json.dumps(obj, indent=2, default=str, ensure_ascii=False))
    else:
        click.echo(text if text is not None else json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def fail(message: str, code: int = 2) -> None:
    """Print `error: message` to stderr and exit with `code` (2: bad input, 1: runtime failure)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)

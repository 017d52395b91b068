"""Helpers shared by the CLI command modules: settings, JSON output, reader groups, error exits.

Exit codes of every command: 0 success, 1 a failure at run time (locked index, missing model, backend
down, unknown document), 2 bad input (arguments, configuration, datasets), 3 refused by the routing policy.
`failure()` is the one mapping from an expected exception to a one-line message and its exit code; the
`rag` group applies it to every command (see `rag.cli.RagGroup`).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from rag.config import Settings

# Command modules, each with `register(cli: click.Group)`. Order is the order in `rag --help`.
COMMAND_MODULES = ("ingest_cmds", "docs_cmds", "index_cmds", "search_cmds", "ask_cmds", "route_cmds", "detect_cmds",
                   "graph_cmds", "serve_cmds", "users_cmds", "audit_cmds", "models_cmds", "eval_cmds", "bench_cmds",
                   "vllm_cmds")

DEFAULT_READER_GROUPS = "all"

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    """The settings for this invocation (environment + .env), with the active model profile applied.

    A bad setting, a malformed models.yaml or an unknown profile exits with status 2 and one line
    (see `failure`)."""
    from rag.registry import resolve_settings

    return resolve_settings(Settings())


def runtime() -> Any:
    """A `rag.runtime.Runtime` over this invocation's settings (components built on first use)."""
    from rag.runtime import Runtime

    return Runtime(settings())


def snippet(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


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


# --- whose access a command reads with -------------------------------------------------------------


def reader_options(command: F) -> F:
    """Add `--user NAME` and `--groups G1,G2` (default: all) to a command that reads the index."""
    command = click.option("--groups", default=None,
                           help=f"Read as a member of these comma-separated groups [default: {DEFAULT_READER_GROUPS}].")(command)
    return click.option("--user", default=None, help="Read as this user (groups from the users store).")(command)


def reader_groups(config: Settings, user: str | None, groups: str | None) -> tuple[str, ...]:
    """The groups a command reads with, from `reader_options` (exit 2 on a bad or unknown value)."""
    from rag.users import groups_for, parse_groups

    if user and groups:
        fail("give either --user or --groups, not both")
    if user:
        return tuple(groups_for(config, user))
    return parse_groups(DEFAULT_READER_GROUPS if groups is None else groups)


# --- expected failures -----------------------------------------------------------------------------


def failure(exc: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit code) for an expected failure; None for anything else (a bug: traceback)."""
    for describe in (_config_failure, _registry_failure, _indexing_failure, _routing_failure, _service_failure,
                     _evals_failure):
        found = describe(exc)
        if found is not None:
            return found
    if isinstance(exc, OSError):  # a missing or unreadable file named by a setting or argument
        return (f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)), 1
    return None


def _config_failure(exc: BaseException) -> tuple[str, int] | None:
    import yaml
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = [f"{_setting_name(err.get('loc', ()), exc.title)}: {err.get('msg', 'invalid value')}"
                 for err in exc.errors()]
        return f"bad configuration: {'; '.join(parts)}", 2
    if isinstance(exc, yaml.YAMLError):
        return f"a YAML file could not be parsed: {' '.join(str(exc).split())}", 2
    return None


def _setting_name(loc: tuple, model: str) -> str:
    name = ".".join(str(p) for p in loc) or "value"
    return f"RAG_{name.upper()}" if model == Settings.__name__ and loc else name


def _registry_failure(exc: BaseException) -> tuple[str, int] | None:
    from rag.registry import RegistryError

    return (str(exc), 2) if isinstance(exc, RegistryError) else None


def _indexing_failure(exc: BaseException) -> tuple[str, int] | None:
    from indexing import errors

    if not isinstance(exc, errors.IndexingError):
        return None
    bad_input = isinstance(exc, (errors.ManifestError, errors.LoaderError))
    return str(exc) + (" (retry later)" if exc.is_retryable else ""), 2 if bad_input else 1


def _routing_failure(exc: BaseException) -> tuple[str, int] | None:
    from routing import errors

    if isinstance(exc, errors.RefusedError):
        return str(exc), 3
    if isinstance(exc, errors.RoutingError):
        return f"{exc} ({'retry later' if exc.is_retryable else 'not retryable'})", 1
    return None


def _service_failure(exc: BaseException) -> tuple[str, int] | None:
    from rag.errors import ServiceError

    if isinstance(exc, ServiceError):
        return exc.message, 2 if exc.status_code < 500 else 1
    return None


def _evals_failure(exc: BaseException) -> tuple[str, int] | None:
    from evals.datasets import DatasetError
    from evals.thresholds import ThresholdError

    if isinstance(exc, (DatasetError, ThresholdError)):
        return str(exc), 2
    return None

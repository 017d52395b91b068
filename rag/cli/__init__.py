"""The `rag` command line. Each command lives in the module named after it and is registered here."""
from __future__ import annotations

import click

from rag.cli import common


class RagGroup(click.Group):
    """The `rag` group: an expected failure in any command becomes one line on stderr and an exit code.

    What counts as expected, and its exit code, is decided by `common.failure`; anything else is a bug
    and keeps its traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            found = common.failure(exc)
            if found is None:
                raise
            message, code = found
            click.echo(f"error: {message}", err=True)
            ctx.exit(code)


@click.group(cls=RagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rag-router")
def cli() -> None:
    """Retrieval-augmented assistant with sensitivity-aware routing."""


def _register() -> None:
    import importlib

    for name in common.COMMAND_MODULES:
        importlib.import_module(f"rag.cli.{name}").register(cli)


_register()


def main() -> None:
    """Console entry point (`rag`)."""
    cli(prog_name="rag")

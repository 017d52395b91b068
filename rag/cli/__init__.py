"""The `rag` command line. Each command group lives in its own module and is registered here."""
from __future__ import annotations

import click

from rag.cli import common


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

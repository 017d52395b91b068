"""`rag serve`: run the HTTP service."""
from __future__ import annotations

import click

from rag.cli import common


@click.command("serve")
@click.option("--host", default=None, help="Interface to bind (default: Settings.host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: Settings.port, 8000).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve_cmd(host: str | None, port: int | None, log_level: str) -> None:
    """Serve the HTTP API with uvicorn (models load once at start-up)."""
    import uvicorn

    from rag.api import create_app

    settings = common.settings()
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level=log_level,
                access_log=False)  # the access log would print paths only; the audit log has the rest


def register(cli: click.Group) -> None:
    """Add `serve` to the `rag` command (`users` and `audit` live in users_cmds.py and audit_cmds.py)."""
    cli.add_command(serve_cmd)

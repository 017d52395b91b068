"""`rag index status|relabel`: the index's state and its stored chunk labels.

Exit codes: 0 success; see `rag.cli.common` for the rest.
"""
from __future__ import annotations

import click

from rag.cli import common


@click.group("index")
def index_group() -> None:
    """The index's state and its chunk labels."""


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def index_status_cmd(as_json: bool) -> None:
    """Counts, and how many chunk labels are stale (made by another detector version or configuration)."""
    runtime = common.runtime()
    stats = {**runtime.store.stats(), "label_stamp": runtime.label_stamp,
             "stale_labels": runtime.store.stale_label_count(runtime.label_stamp)}
    text = "\n".join(f"{k}: {v}" for k, v in stats.items())
    if stats["stale_labels"]:
        text += "\nrun `rag index relabel` to bring the stale labels up to date"
    common.emit(stats, as_json, text)


@index_group.command("relabel")
@click.option("--batch", "batch_size", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Chunks labelled and committed together.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Stop after about this many chunks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def index_relabel_cmd(batch_size: int, limit: int | None, as_json: bool) -> None:
    """Re-label chunks whose label is stale, with the current detector and configuration.

    Each batch commits on its own: safe to interrupt, and a second run resumes where the first stopped.
    """
    from indexing.relabel import relabel_stale
    from rag.labelling import chunk_labeler

    runtime = common.runtime()
    progress = None if as_json else (lambda done, left: click.echo(f"relabelled {done}, {left} stale left"))
    done = relabel_stale(runtime.store, chunk_labeler(runtime.detector), runtime.label_stamp, batch_size,
                         progress=progress, limit=limit)
    left = runtime.store.stale_label_count(runtime.label_stamp)
    common.emit({"relabelled": done, "stale_labels": left, "label_stamp": runtime.label_stamp}, as_json,
                f"relabelled {done} chunk(s); {left} stale left")


def register(cli: click.Group) -> None:
    """Add `index` to the `rag` group."""
    cli.add_command(index_group)

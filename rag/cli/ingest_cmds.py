"""`rag ingest`: add or update files and folders in the index.

Exit codes: 0 success, 1 a file was refused (the others still go in), 2 bad arguments (unknown
classification, missing path, malformed manifest); see `rag.cli.common` for the rest.
"""
from __future__ import annotations

from pathlib import Path

import click

from rag.cli import common


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--groups", help="Comma-separated groups that may read these documents (overrides the manifest).")
@click.option("--classification", help="Declared level: public, internal, confidential or restricted "
                                       "(overrides the manifest).")
@click.option("--collection", help="Prefix every source with COLLECTION/ (keeps same-path files of different "
                                   "folders apart; document ids are unique per source path and collection).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest_cmd(paths: tuple[Path, ...], groups: str | None, classification: str | None, collection: str | None,
               as_json: bool) -> None:
    """Add or update files and folders (recursively) in the index.

    A folder's `manifest.yaml` gives each document's groups and classification unless --groups or
    --classification are given. Unchanged files are skipped; refused files are listed on stderr (exit 1).
    Progress goes to stderr: a bar on a terminal, one JSON line per file with --json.
    """
    from indexing.types import Classification
    from rag.cli.progress import ingest_progress
    from rag.users import parse_groups

    try:
        level = Classification.parse(classification) if classification is not None else None
    except ValueError as exc:
        common.fail(f"--classification: {exc}")
        return
    group_list = None if groups is None else parse_groups(groups)
    if collection is not None and (not collection.strip("/ ") or ".." in collection.split("/")):
        common.fail("--collection needs a name such as team-a or 2026/handbooks")
    runtime = common.runtime()
    runtime.ingestor.progress = ingest_progress(as_json)
    report = runtime.ingestor.ingest_paths(paths, groups=group_list, classification=level, collection=collection)
    lines = [f"{r.action:<9} {r.source}" + (f"  ({r.chunks} chunks, v{r.version})" if r.chunks else "")
             + (f"  [{r.reason}]" if r.reason and r.action == "updated" else "")
             for r in report.results if r.action != "refused"]
    counts = report.counts()
    lines.append(", ".join(f"{n} {a}" for a, n in counts.items()) + f"; {report.chunks_written} chunks written "
                 f"in {report.timings.get('total', 0.0):.1f}s; index {runtime.settings.index_dir}")
    common.emit(report.to_dict(), as_json, "\n".join(lines))
    for refused in report.refused:
        click.echo(f"refused: {refused.reason}", err=True)
    if not report.ok:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    """Add `ingest` to the `rag` group."""
    cli.add_command(ingest_cmd)

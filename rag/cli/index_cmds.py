"""`rag ingest`, `rag docs list|show|delete|stats` and `rag search`: the index from the command line.

Exit codes: 0 success, 1 something failed at run time (a refused file, an unknown document), 2 bad
arguments (unknown classification, missing path, malformed manifest).
"""
from __future__ import annotations

from pathlib import Path

import click

from rag.cli import common

SEARCH_MODES = ("dense", "bm25", "hybrid", "graph", "all")


def _runtime():
    from rag.runtime import Runtime

    return Runtime(common.settings())


def _parse_groups(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    groups = tuple(dict.fromkeys(g.strip() for g in value.split(",") if g.strip()))
    if not groups:
        common.fail("--groups needs at least one group name, e.g. --groups hr,finance")
    return groups


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--groups", help="Comma-separated groups that may read these documents (overrides the manifest).")
@click.option("--classification", help="Declared level: public, internal, confidential or restricted "
                                       "(overrides the manifest).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest_cmd(paths: tuple[Path, ...], groups: str | None, classification: str | None, as_json: bool) -> None:
    """Add or update files and folders (recursively) in the index.

    A folder's `manifest.yaml` gives each document's groups and classification unless --groups or
    --classification are given. Unchanged files are skipped; refused files are listed on stderr (exit 1).
    Progress goes to stderr: a bar on a terminal, one JSON line per file with --json.
    """
    from indexing.errors import ManifestError
    from indexing.types import Classification

    try:
        level = Classification.parse(classification) if classification is not None else None
    except ValueError as exc:
        common.fail(f"--classification: {exc}")
        return
    group_list = _parse_groups(groups)
    from rag.cli.progress import ingest_progress

    runtime = _runtime()
    runtime.ingestor.progress = ingest_progress(as_json)
    try:
        report = runtime.ingestor.ingest_paths(paths, groups=group_list, classification=level)
    except ManifestError as exc:
        common.fail(f"{exc}")
        return
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


@click.group("docs")
def docs_group() -> None:
    """List, show and delete indexed documents."""


@docs_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_list_cmd(as_json: bool) -> None:
    """All documents with their id, version, label, groups and chunk count."""
    records = _runtime().store.list_documents()
    lines = [f"{r.doc_id}  v{r.version}  {str(r.label):<12} {','.join(r.groups):<24} {r.chunk_count:>4} chunks  "
             f"{r.source}" for r in records]
    lines.append(f"{len(records)} document(s)")
    common.emit([_record_dict(r) for r in records], as_json, "\n".join(lines))


@docs_group.command("show")
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_show_cmd(doc: str, as_json: bool) -> None:
    """One document (by id or source path) and its chunks."""
    store = _runtime().store
    record = store.get_document(doc)
    if record is None:
        common.fail(f"no document with id or source {doc!r}; see `rag docs list`", 1)
        return
    chunks = store.document_chunks(record.doc_id)
    data = {**_record_dict(record), "chunks": [
        {"chunk_id": c.chunk_id, "position": c.position, "heading": c.heading, "page": c.page,
         "token_count": c.token_count, "text": c.text} for c in chunks]}
    lines = [f"{k}: {v}" for k, v in _record_dict(record).items()]
    lines += [f"  [{c.position}] {c.chunk_id} {c.token_count} tokens"
              + (f" p.{c.page}" if c.page else "") + (f" | {c.heading}" if c.heading else "")
              + f"\n      {_snippet(c.text, 140)}" for c in chunks]
    common.emit(data, as_json, "\n".join(lines))


@docs_group.command("delete")
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_delete_cmd(doc: str, as_json: bool) -> None:
    """Remove a document (by id or source path) from the index, the vectors and the graph."""
    runtime = _runtime()
    record = runtime.store.get_document(doc)
    if record is None or not runtime.ingestor.delete(record.doc_id):
        common.fail(f"no document with id or source {doc!r}; see `rag docs list`", 1)
        return
    common.emit({"deleted": record.doc_id, "source": record.source}, as_json,
                f"deleted {record.doc_id} ({record.source})")


@docs_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def docs_stats_cmd(as_json: bool) -> None:
    """Counts of documents, chunks and vectors, labels and groups."""
    stats = _runtime().store.stats()
    common.emit(stats, as_json, "\n".join(f"{k}: {v}" for k, v in stats.items()))


@click.command("search")
@click.argument("query")
@click.option("--user", help="Search as this user (their groups from the users store).")
@click.option("--groups", help="Search as a member of these comma-separated groups.")
@click.option("-k", "k", default=None, type=click.IntRange(1, 100), help="Number of results [default: settings].")
@click.option("--mode", type=click.Choice(SEARCH_MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_cmd(query: str, user: str | None, groups: str | None, k: int | None, mode: str, as_json: bool) -> None:
    """Retrieve chunks for QUERY (no generation). Without --user/--groups nothing is filtered (admin view)."""
    if user and groups:
        common.fail("give either --user or --groups, not both")
    runtime = _runtime()
    reader = _user_groups(runtime.settings, user) if user else _parse_groups(groups)
    k = k or runtime.settings.top_k
    hits = _search(runtime, query, k, reader, mode)
    lines = [f"{i}. {hit.score:.4f}  {hit.source}  | {hit.title}"
             + (f" > {hit.heading}" if hit.heading else "") + (f" p.{hit.page}" if hit.page else "")
             + f"\n   chunk {hit.chunk_id}  {str(hit.label)}  via "
             + ", ".join(f"{name}#{rank}" for name, rank in hit.retrievers.items())
             + f"\n   {_snippet(hit.text, 200)}" for i, hit in enumerate(hits, start=1)]
    lines = lines or [f"no results (mode {mode}" + (f", groups {','.join(reader)})" if reader is not None else ")")]
    common.emit([_hit_dict(i, hit) for i, hit in enumerate(hits, start=1)], as_json, "\n".join(lines))


def _search(runtime, query: str, k: int, groups: tuple[str, ...] | None, mode: str):
    if mode in ("graph", "all"):
        try:
            retriever = runtime.retriever
        except ModuleNotFoundError as exc:
            common.fail(f"--mode {mode} needs the graph retriever ({exc.name} is not available); "
                        "use --mode dense, bm25 or hybrid", 1)
        return retriever.search(query, k=k, groups=groups, mode=mode)
    from indexing.search import HybridSearcher

    settings = runtime.settings
    searcher = HybridSearcher(runtime.store, runtime.embedder, rrf_k=settings.rrf_k,
                              weights=settings.fusion_weights, candidate_pool=settings.candidate_pool)
    return searcher.search(query, k, groups=groups, mode=mode)


def _user_groups(settings, name: str) -> tuple[str, ...]:
    try:
        from rag.users import groups_for
    except ImportError:
        common.fail("--user needs the users store (rag.users), which is not available; use --groups", 2)
    try:
        return tuple(groups_for(settings, name))
    except Exception as exc:  # rag.users.NotFound and friends: say what is wrong, no traceback
        common.fail(str(exc), 2)


def _record_dict(record) -> dict:
    return {"doc_id": record.doc_id, "source": record.source, "title": record.title, "format": record.format,
            "version": record.version, "groups": list(record.groups), "declared": str(record.declared),
            "label": str(record.label), "chunk_count": record.chunk_count, "content_hash": record.content_hash,
            "ingested_at": record.ingested_at}


def _hit_dict(rank: int, hit) -> dict:
    return {"rank": rank, "score": round(hit.score, 6), "source": hit.source, "title": hit.title,
            "heading": hit.heading, "page": hit.page, "chunk_id": hit.chunk_id, "doc_id": hit.doc_id,
            "label": str(hit.label), "groups": list(hit.groups), "retrievers": hit.retrievers,
            "graph_paths": hit.graph_paths, "text": hit.text}


def _snippet(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def register(cli: click.Group) -> None:
    """Add `ingest`, `docs` and `search` to the `rag` group."""
    cli.add_command(ingest_cmd)
    cli.add_command(docs_group)
    cli.add_command(search_cmd)

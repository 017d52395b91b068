"""`rag search`: retrieval only, as a reader of some groups (the same --user/--groups as `rag ask`)."""
from __future__ import annotations

import click

from rag.cli import common

SEARCH_MODES = ("dense", "bm25", "hybrid", "graph", "all")


@click.command("search")
@click.argument("query")
@common.reader_options
@click.option("-k", "k", default=None, type=click.IntRange(1, 100), help="Number of results [default: settings].")
@click.option("--mode", type=click.Choice(SEARCH_MODES), default=None, help="Retriever [default: RAG_SEARCH_MODE].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_cmd(query: str, user: str | None, groups: str | None, k: int | None, mode: str | None,
               as_json: bool) -> None:
    """Retrieve chunks for QUERY (no generation), as a reader of --groups (default: all) or --user."""
    runtime = common.runtime()
    reader = common.reader_groups(runtime.settings, user, groups)
    k = k or runtime.settings.top_k
    mode = mode or runtime.settings.search_mode
    hits = _search(runtime, query, k, reader, mode)
    lines = [f"{i}. {hit.score:.4f}  {hit.source}  | {hit.title}"
             + (f" > {hit.heading}" if hit.heading else "") + (f" p.{hit.page}" if hit.page else "")
             + f"\n   chunk {hit.chunk_id}  {str(hit.label)}  via "
             + ", ".join(f"{name}#{rank}" for name, rank in hit.retrievers.items())
             + f"\n   {common.snippet(hit.text, 200)}" for i, hit in enumerate(hits, start=1)]
    lines = lines or [f"no results (mode {mode}, groups {','.join(reader)})"]
    common.emit([_hit_dict(i, hit) for i, hit in enumerate(hits, start=1)], as_json, "\n".join(lines))


def _search(runtime, query: str, k: int, groups: tuple[str, ...], mode: str):
    if mode in ("graph", "all"):  # the retriever loads the graph (and spaCy) only for these modes
        return runtime.retriever.search(query, k=k, groups=groups, mode=mode)
    return runtime.searcher.search(query, k, groups=groups, mode=mode)


def _hit_dict(rank: int, hit) -> dict:
    return {"rank": rank, "score": round(hit.score, 6), "source": hit.source, "title": hit.title,
            "heading": hit.heading, "page": hit.page, "chunk_id": hit.chunk_id, "doc_id": hit.doc_id,
            "label": str(hit.label), "groups": list(hit.groups), "retrievers": hit.retrievers,
            "graph_paths": hit.graph_paths, "text": hit.text}


def register(cli: click.Group) -> None:
    """Add `search` to the `rag` group."""
    cli.add_command(search_cmd)

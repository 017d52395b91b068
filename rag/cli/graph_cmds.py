"""`rag graph ...`: inspect the knowledge graph (stats, one entity, export), search it, rebuild it."""
from __future__ import annotations

from pathlib import Path

import click

from rag.cli import common


def _graph(with_nlp: bool = False, runtime=None):
    """The runtime's graph (loads spaCy via Presidio) or a read-only one over the same index (no models)."""
    runtime = runtime or common.runtime()
    return runtime.graph if with_nlp else runtime.graph_over(runtime.store)


@click.group("graph")
def graph_group() -> None:
    """Inspect and search the knowledge graph built at ingestion."""


@graph_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_cmd(as_json: bool) -> None:
    """Nodes, edges, nodes by type and documents covered."""
    stats = _graph().stats()
    lines = [f"nodes: {stats['nodes']}  edges: {stats['edges']} "
             f"({stats['relation_edges']} relations, {stats['co_occurrence_edges']} co-occurrences)",
             f"documents covered: {stats['docs_covered']} of {stats['documents']}  "
             f"chunks with entities: {stats['chunks_with_entities']}",
             "by type: " + ", ".join(f"{t}={n}" for t, n in stats["nodes_by_type"].items()),
             "top relations: " + ", ".join(f"{r}={n}" for r, n in stats["top_relations"].items())]
    common.emit(stats, as_json, "\n".join(lines))


@graph_group.command("entity")
@click.argument("name")
@click.option("--limit", default=50, show_default=True, help="Neighbours listed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def entity_cmd(name: str, limit: int, as_json: bool) -> None:
    """An entity's neighbours with the chunks and sources that support each edge."""
    from knowledge_graph.inspect import describe_entity

    view = describe_entity(_graph(), name, limit=limit)
    if view is None:
        common.fail(f"no entity matches {name!r}; try `rag graph stats` or a name from `rag graph export`", 1)
        return
    lines = [f"{view['name']} [{view['type']}] label={view['label']} mentions={view['mentions']} "
             f"in {len(view['sources'])} document(s)"]
    for edge in view["neighbours"]:
        arrow = f"-{edge['relation']}->" if edge["direction"] == "out" else f"<-{edge['relation']}-"
        lines.append(f"  {arrow} {edge['neighbour']} [{edge['type']}]  chunks={','.join(edge['chunks'])}  "
                     f"sources={', '.join(edge['sources'])}")
    common.emit(view, as_json, "\n".join(lines))


@graph_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["graphml", "json"]), default="graphml", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export_cmd(fmt: str, output: Path | None) -> None:
    """Export the graph as GraphML or node-link JSON."""
    from knowledge_graph.inspect import export_graph

    text = export_graph(_graph().graph, fmt, output)
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}", err=True)


@graph_group.command("search")
@click.argument("query")
@common.reader_options
@click.option("-k", default=5, show_default=True)
@click.option("--hops", type=int, default=None, help="Default: RAG_GRAPH_HOPS.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_cmd(query: str, user: str | None, groups: str | None, k: int, hops: int | None, as_json: bool) -> None:
    """Chunks reached from the query's entities, with the entity paths that reached them."""
    runtime = common.runtime()
    reader = common.reader_groups(runtime.settings, user, groups)
    hits = _graph(with_nlp=True, runtime=runtime).search(query, groups=list(reader), k=k, hops=hops)
    rows = [{"chunk_id": h.chunk_id, "score": h.score, "label": str(h.label), "paths": h.paths} for h in hits]
    lines = [f"{i}. {r['chunk_id']}  score={r['score']:.4f}  " + " | ".join(" > ".join(p) for p in r["paths"])
             for i, r in enumerate(rows, 1)] or ["no graph results (no known entity in the query?)"]
    common.emit(rows, as_json, "\n".join(lines))


@graph_group.command("rebuild")
def rebuild_cmd() -> None:
    """Extract entities for chunks indexed without the graph, then re-derive and save the graph."""
    kg = _graph(with_nlp=True)
    added = kg.backfill()
    kg.commit()
    stats = kg.stats()
    click.echo(f"extracted {added} chunk(s); graph has {stats['nodes']} nodes and {stats['edges']} edges")


def register(cli: click.Group) -> None:
    """Add the `graph` group to the `rag` command line."""
    cli.add_command(graph_group)

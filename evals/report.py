"""Reports of an evaluation run: a text table, JSON, Markdown and a PNG chart by retriever mode.

The report is a plain dict: ``{"suites": {name: suite}, "thresholds": {"passed", "misses"},
"config": {...}}``. A retrieval suite has ``modes: {mode: {metric: value}}``; the others
(routing, answers) have ``metrics: {metric: value}`` and, where measured, ``latency``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TABLE_METRICS = ("recall@5", "recall@10", "mrr@10", "ndcg@10", "hit@1", "hit@5", "complete@5", "latency_p50_ms")
CHART_METRICS = ("recall@5", "mrr@10", "ndcg@10", "hit@5")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def _set_rows(suite: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Prompt sets side by side: one row per metric, one column per set; skipped sets as notes."""
    sets = suite["sets"]
    names = list(sets)
    keys: list[str] = []
    for values in sets.values():
        keys += [k for k in values if k not in keys]
    keys = sorted(keys, key=lambda k: (not k.startswith(("leaks", "recall", "benign", "sensitive")), k))
    rows = [[k, *(_fmt(sets[n].get(k, "")) for n in names)] for k in keys]
    rows += [[f"set {name}", note] for name, note in suite.get("skipped", {}).items()]
    return ["metric", *names], rows


def _rows(suite: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    if "sets" in suite:
        return _set_rows(suite)
    if "modes" in suite:
        header = ["mode", *TABLE_METRICS]
        rows = [[mode, *(_fmt(m.get(k, "")) for k in TABLE_METRICS)] for mode, m in suite["modes"].items()]
        rows += [[mode, f"error: {msg}"] for mode, msg in suite.get("errors", {}).items()]
        rows += [[mode, f"skipped: {msg}"] for mode, msg in suite.get("skipped", {}).items()]
        return header, rows
    rows = [[k, _fmt(v)] for k, v in suite.get("metrics", {}).items()]
    rows += [[f"latency {stage} p50/p95 ms", f"{v['p50_ms']:.1f} / {v['p95_ms']:.1f}"]
             for stage, v in suite.get("latency", {}).items()]
    return ["metric", "value"], rows


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table per suite, then the threshold verdict."""
    lines: list[str] = []
    for name, suite in report.get("suites", {}).items():
        header, rows = _rows(suite)
        full = [r for r in [header, *rows] if len(r) == len(header)]  # error rows are short: not measured
        widths = [max(len(str(r[i])) for r in full) for i in range(len(header))]
        count = f" ({suite['queries']} queries)" if "queries" in suite else ""
        lines.append(f"== {name}{count}")
        for row in [header, *rows]:
            lines.append("  ".join(str(c).ljust(widths[i]) if i < len(row) - 1 else str(c) for i, c in enumerate(row)))
        lines.append("")
    lines.extend(_verdict(report))
    return "\n".join(lines).rstrip() + "\n"


def _verdict(report: dict[str, Any]) -> list[str]:
    verdict = report.get("thresholds")
    if not verdict:
        return ["thresholds: not checked"]
    if verdict["passed"]:
        return ["thresholds: all passed"]
    return [f"thresholds: {len(verdict['misses'])} missed", *(f"  MISS {m['message']}" for m in verdict["misses"])]


def to_markdown(report: dict[str, Any], chart: str | None = None) -> str:
    """The report as Markdown: one table per suite, the chart, and the threshold verdict."""
    out = ["# Evaluation report", ""]
    for name, suite in report.get("suites", {}).items():
        header, rows = _rows(suite)
        out += [f"## {name}", ""]
        if "queries" in suite:
            out += [f"{suite['queries']} queries.", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(r + [""] * (len(header) - len(r))) + " |" for r in rows]
        out.append("")
        if suite.get("leaked_ids"):
            out += [f"Leaked prompt ids: {', '.join(suite['leaked_ids'])}", ""]
        for set_name, ids in (suite.get("leaked") or {}).items():
            if ids:
                out += [f"Leaked prompt ids ({set_name}): {', '.join(ids)}", ""]
    if chart:
        out += [f"![metrics by retriever mode]({chart})", ""]
    out += ["## Thresholds", "", *_verdict(report), ""]
    return "\n".join(out)


def plot_modes(report: dict[str, Any], path: Path) -> Path | None:
    """Bar chart of `CHART_METRICS` by retriever mode, one panel per retrieval suite (None if none)."""
    suites = {n: s for n, s in report.get("suites", {}).items() if s.get("modes") and "sets" not in s}
    if not suites:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(suites), figsize=(5.5 * len(suites), 4.4), squeeze=False)
    for ax, (name, suite) in zip(axes[0], suites.items()):
        modes = list(suite["modes"])
        width = 0.8 / len(modes)
        for i, mode in enumerate(modes):
            values = [suite["modes"][mode].get(m, 0.0) for m in CHART_METRICS]
            ax.bar([x + i * width for x in range(len(CHART_METRICS))], values, width, label=mode)
        ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(CHART_METRICS))], CHART_METRICS)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{name} ({suite.get('queries', '?')} queries)")
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(modes), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write report.json, report.md and (with a retrieval suite) modes.png into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"json": folder / "report.json", "markdown": folder / "report.md"}
    written["json"].write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    chart = plot_modes(report, folder / "modes.png")
    if chart is not None:
        written["chart"] = chart
    written["markdown"].write_text(to_markdown(report, chart.name if chart else None), encoding="utf-8")
    return written

"""Reports: text table, Markdown, JSON and the PNG chart."""
import json

from evals import report as rep

REPORT = {
    "suites": {
        "retrieval": {"queries": 12, "modes": {
            "bm25": {"recall@5": 0.75, "mrr@10": 0.6, "ndcg@10": 0.62, "hit@5": 0.8, "latency_p50_ms": 3.2},
            "hybrid": {"recall@5": 0.9, "mrr@10": 0.7, "ndcg@10": 0.74, "hit@5": 0.95, "latency_p50_ms": 15.0},
        }, "errors": {"graph": "RuntimeError: no graph"}, "skipped": {}},
        "routing": {"metrics": {"leaks": 0.0, "sensitive_recall": 1.0},
                    "latency": {"route": {"p50_ms": 20.0, "p95_ms": 35.5}}, "leaked_ids": []},
    },
    "thresholds": {"passed": False, "misses": [{"message": "retrieval/graph/recall@5: not measured, needs >= 0.5"}]},
}


def test_when_table_formatted_then_modes_metrics_and_misses_appear():
    table = rep.format_table(REPORT)
    assert "== retrieval (12 queries)" in table
    hybrid = next(line for line in table.splitlines() if line.startswith("hybrid"))
    assert "0.900" in hybrid and "15.0" in hybrid
    assert "graph" in table and "error: RuntimeError: no graph" in table
    assert "latency route p50/p95 ms" in table and "20.0 / 35.5" in table
    assert "thresholds: 1 missed" in table and "MISS retrieval/graph/recall@5" in table


def test_when_written_then_json_markdown_and_png_exist(tmp_path):
    written = rep.write_report(REPORT, tmp_path / "out")
    assert json.loads(written["json"].read_text())["suites"]["retrieval"]["modes"]["bm25"]["recall@5"] == 0.75
    markdown = written["markdown"].read_text()
    assert "| hybrid | 0.900 |" in markdown and "![metrics by retriever mode](modes.png)" in markdown
    assert written["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_when_no_retrieval_suite_then_no_chart():
    only_routing = {"suites": {"routing": REPORT["suites"]["routing"]}}
    assert rep.plot_modes(only_routing, None) is None
    assert "thresholds: not checked" in rep.format_table(only_routing)

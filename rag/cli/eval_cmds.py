"""`rag eval`: run the evaluation suites, print a table (or JSON), write reports, check thresholds.

Exit status: 0 every threshold met, 1 a threshold missed, 2 bad input (missing dataset, unknown
format or suite, malformed thresholds file).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rag.cli import common
from rag.config import REPO_ROOT, Settings

FORMATS = ("squad", "beir", "native")


def make_runtime(settings: Settings, home: Path) -> Any:
    """A runtime whose index lives in `home` (never the user's RAG_HOME index)."""
    from rag.runtime import Runtime

    return Runtime(settings.model_copy(update={"home": home}))


def ask_function(runtime: Any, local_only: bool = False) -> Any:
    """The answers suite's (question, groups) -> `rag.types.Answer`, through the runtime's assistant;
    `local_only`: the same assistant with its server backend marked down (the local-path comparison)."""
    from rag.assistant import server_marked_down
    from rag.types import Principal

    assistant = server_marked_down(runtime.assistant) if local_only else runtime.assistant
    return lambda question, groups: assistant.answer(question, Principal("eval", tuple(groups)))


def _modes(value: str) -> tuple[str, ...]:
    from evals.suites import MODES

    modes = tuple(m.strip() for m in value.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise click.BadParameter(f"unknown mode(s) {unknown}; use a comma list of: {', '.join(MODES)}")
    return modes


def run(settings: Settings, *, suites: tuple[str, ...], dataset: Path | None, fmt: str | None,
        thresholds: Path | None, limit: int | None, sample: int, modes: tuple[str, ...],
        data_dir: Path, corpus: Path | None, work_dir: Path | None, split: str, seed: int,
        compare_local: bool = False) -> tuple[dict[str, Any], int]:
    """Run the evaluation as `rag eval` does; returns the report and the exit status.

    Raises:
        DatasetError, ThresholdError: bad input (the command exits with status 2).
    """
    from evals import runner, thresholds as th

    if "squad" in suites or "beir" in suites:
        if dataset is None:
            raise runner.ds.DatasetError("--suite squad/beir needs --dataset PATH")
        fmt = fmt or ("squad" if "squad" in suites else "beir")
        suites = tuple(s for s in suites if s not in ("squad", "beir"))
    elif not suites:
        suites = () if dataset is not None else runner.DEFAULT_SUITES
    bounds = th.load_thresholds(thresholds) if thresholds is not None else None
    config = runner.EvalConfig(
        suites=suites, data_dir=data_dir, corpus_dir=corpus or settings.corpus_dir, dataset=dataset,
        dataset_format=fmt, split=split, modes=modes, limit=limit, answers_sample=sample,
        answer_mode=settings.search_mode, seed=seed, work_dir=work_dir, compare_local=compare_local,
        progress=lambda line: click.echo(f"eval: {line}", err=True),
    )
    report = runner.run_evals(config, lambda home: make_runtime(settings, home), ask_factory=ask_function)
    if bounds is None:
        return report, 0
    misses = th.check(report, bounds)
    report["thresholds"] = {"passed": not misses, "file": str(thresholds), "misses": [m.to_dict() for m in misses]}
    return report, 0 if not misses else 1


def register(cli: click.Group) -> None:
    """Add `rag eval` to the command group."""

    @cli.command("eval")
    @click.option("--suite", "suites", multiple=True,
                  type=click.Choice(["retrieval", "multihop", "routing", "answers", "squad", "beir"]),
                  help="Suite to run (repeatable). Default: retrieval, multihop, routing.")
    @click.option("--dataset", type=click.Path(path_type=Path), help="External dataset: SQuAD JSON, BEIR folder or JSONL.")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), help="Dataset format (default: from the path).")
    @click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.option("--report", "report_dir", type=click.Path(path_type=Path), help="Write report.json, report.md, modes.png here.")
    @click.option("--thresholds", type=click.Path(path_type=Path), default=None,
                  help="Thresholds YAML (default: evals/thresholds.yaml).")
    @click.option("--no-thresholds", is_flag=True, help="Report only; never fail on thresholds.")
    @click.option("--limit", type=click.IntRange(min=1), help="At most N queries/prompts per suite (seeded sample).")
    @click.option("--sample", type=click.IntRange(min=1), default=30, show_default=True, help="Questions for the answers suite.")
    @click.option("--modes", default="bm25,dense,hybrid,graph,all", show_default=True, help="Retriever modes to compare.")
    @click.option("--data", "data_dir", type=click.Path(path_type=Path), default=REPO_ROOT / "data", show_default=True,
                  help="Folder with evals/ and routing/ sets.")
    @click.option("--corpus", type=click.Path(path_type=Path), help="Corpus of the native sets (default: RAG_CORPUS_DIR).")
    @click.option("--work-dir", type=click.Path(path_type=Path), help="Keep the evaluation indexes here (default: temporary).")
    @click.option("--seed", default=13, show_default=True, help="Seed of every sample.")
    @click.option("--compare-local", is_flag=True,
                  help="Answers suite: also answer on the local path and compare F1 with the server's.")
    def eval_command(suites, dataset, fmt, split, as_json, report_dir, thresholds, no_thresholds, limit, sample,
                     modes, data_dir, corpus, work_dir, seed, compare_local) -> None:
        """Evaluate retrieval (every retriever mode), routing safety and answers; fail on thresholds."""
        from evals import report as rep
        from evals.thresholds import DEFAULT_PATH

        result, status = run(  # a DatasetError or ThresholdError exits 2 (rag.cli.common.failure)
            common.settings(), suites=tuple(suites), dataset=dataset, fmt=fmt,
            thresholds=None if no_thresholds else (thresholds or DEFAULT_PATH), limit=limit, sample=sample,
            modes=_modes(modes), data_dir=data_dir, corpus=corpus, work_dir=work_dir, split=split, seed=seed,
            compare_local=compare_local,
        )
        if report_dir is not None:
            written = rep.write_report(result, report_dir)
            if not as_json:
                click.echo(f"reports: {', '.join(str(p) for p in written.values())}", err=True)
        common.emit(result, as_json, rep.format_table(result))
        raise SystemExit(status)

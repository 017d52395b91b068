"""Prompt/decoding tuning harness for the answer prompt (dev tool, not part of CI).

Step 1 (`retrieve`): ingest the SQuAD subset once into WORK/home and cache, for a balanced seeded
sample, the passages the assistant's retriever returns (same mode and top_k as `rag eval`).
Step 2 (`run`): send the cached questions to the local GGUF with a prompt variant and score them
like `evals.suites` (token F1, EM, abstention, false abstention).

Held-out discipline: tune on `--seed 101` (any seed but the CI's 13); the questions of the CI
sample (seed 13, --exclude-sample N) are dropped from the tuning sample.

    PYTHONPATH=$PWD .venv/bin/python scripts/answer_tuning.py retrieve --seed 101 --n 40 --work /tmp/at
    PYTHONPATH=$PWD .venv/bin/python scripts/answer_tuning.py run --seed 101 --work /tmp/at --variant base
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

SQUAD = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "squad-v2-dev-5-articles.json"


def _dataset():
    from evals import datasets as ds
    return ds.load_dataset(SQUAD, "squad")


def retrieve(args: argparse.Namespace) -> None:
    from evals import datasets as ds
    from evals import runner
    from rag.config import Settings
    from rag.runtime import Runtime

    dataset = _dataset()
    ci = {q.id for n in (20, 30, args.exclude_sample) for q in ds.sample_balanced(dataset.queries, n, 13)}
    pool = [q for q in dataset.queries if q.id not in ci]
    queries = ds.sample_balanced(pool, args.n, args.seed) if args.seed != 13 else ds.sample_balanced(dataset.queries, args.n, 13)
    work = Path(args.work)
    runtime = Runtime(Settings().model_copy(update={"home": work / "home"}))
    if not (work / "ingested").exists():
        print(runner.ingest(runtime, dataset, work), file=sys.stderr)
        (work / "ingested").write_text("ok")
    s = runtime.settings
    rows = []
    for q in queries:
        hits = runtime.retriever.search(q.question, groups=list(q.groups), k=s.top_k, mode=s.search_mode)
        rows.append({"id": q.id, "question": q.question, "answers": list(q.answers), "answerable": q.answerable,
                     "hits": [{"title": h.title, "text": h.text, "chunk_id": h.chunk_id} for h in hits]})
    (work / f"questions-{args.seed}.json").write_text(json.dumps(rows, indent=1))
    print(f"{len(rows)} questions cached ({sum(r['answerable'] for r in rows)} answerable)", file=sys.stderr)


def score(rows: list[dict], outputs: list[str]) -> dict[str, float]:
    from evals import metrics
    from evals.suites import is_abstention

    ans = [(r, o) for r, o in zip(rows, outputs) if r["answerable"]]
    una = [(r, o) for r, o in zip(rows, outputs) if not r["answerable"]]
    strip = metrics.strip_citations
    return {
        "f1": metrics.mean(metrics.token_f1(strip(o), r["answers"]) for r, o in ans),
        "em": metrics.mean(metrics.exact_match(strip(o), r["answers"]) for r, o in ans),
        "false_abst": metrics.mean(float(is_abstention(strip(o))) for _, o in ans),
        "abst_acc": metrics.mean(float(is_abstention(strip(o))) for _, o in una),
        "marked": metrics.mean(float(bool(metrics.cited_numbers(o))) for _, o in ans),
    }


def run(args: argparse.Namespace) -> None:
    import importlib
    variants = importlib.import_module("scripts.answer_variants")
    rows = json.loads((Path(args.work) / f"questions-{args.seed}.json").read_text())[args.offset: args.offset + args.limit]
    backend = variants.local_backend(args.threads) if args.backend == "local" else variants.server_backend()
    outs = []
    t0 = time.perf_counter()
    for i, r in enumerate(rows):
        text = variants.answer(args.variant, backend, r)
        outs.append(text)
        if args.verbose:
            print(f"{i} {'A' if r['answerable'] else 'U'} gold={r['answers'][:1]} -> {text!r} "
                  f"raw={r.get('_raw')!r} verdict={(r.get('_verdicts') or [''])[-1]!r}", file=sys.stderr)
    result = {"variant": args.variant, "backend": args.backend, "seed": args.seed, "n": len(rows), **score(rows, outs),
              "s_per_q": (time.perf_counter() - t0) / max(1, len(rows))}
    if any("_raw" in r for r in rows):
        result["unverified"] = {k: round(v, 3) for k, v in score(rows, [r.get("_raw", o) for r, o in zip(rows, outs)]).items()}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    out = Path(args.work) / f"out-{args.seed}-{args.variant}-{args.backend}.json"
    out.write_text(json.dumps([{"id": r["id"], "out": o} for r, o in zip(rows, outs)], indent=1))


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("retrieve")
    a.add_argument("--seed", type=int, default=101)
    a.add_argument("--n", type=int, default=40)
    a.add_argument("--exclude-sample", type=int, default=30)
    a.add_argument("--work", required=True)
    b = sub.add_parser("run")
    b.add_argument("--seed", type=int, default=101)
    b.add_argument("--work", required=True)
    b.add_argument("--variant", default="base")
    b.add_argument("--limit", type=int, default=1000)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("-v", "--verbose", action="store_true")
    b.add_argument("--backend", choices=("local", "server"), default="local")
    b.add_argument("--offset", type=int, default=0)
    args = p.parse_args()
    {"retrieve": retrieve, "run": run}[args.cmd](args)


if __name__ == "__main__":
    main()

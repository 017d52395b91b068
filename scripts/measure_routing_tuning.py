"""Per-kind routing figures on the dev and tuning sets only (never data/heldout/), via Runtime.route_text.

Usage: PYTHONPATH=$PWD OMP_NUM_THREADS=1 RAG_HOME=$(mktemp -d) .venv/bin/python scripts/measure_routing_tuning.py ERRORS_TSV [SET...]
ERRORS_TSV gets one line per mis-routed prompt with its findings (error analysis)."""
import sys, collections
from pathlib import Path
from rag.config import Settings
from rag.runtime import Runtime
from evals.datasets import load_routing
from evals.suites import kind_of
sets = {"dev": ["data/routing/prompts.jsonl", "data/routing/generated.jsonl"],
        "tuning/prompts": ["data/routing/tuning/prompts.jsonl"],
        "tuning/prompts_b": ["data/routing/tuning/prompts_b.jsonl"],
        "tuning/prompts_c": ["data/routing/tuning/prompts_c.jsonl"],
        "tuning/prompts_d": ["data/routing/tuning/prompts_d.jsonl"],
        "tuning/prompts_e": ["data/routing/tuning/prompts_e.jsonl"],
        "tuning/prompts_f": ["data/routing/tuning/prompts_f.jsonl"],
        "tuning/prompts_g": ["data/routing/tuning/prompts_g.jsonl"],
        "tuning/prompts_h": ["data/routing/tuning/prompts_h.jsonl"],
        "tuning/prompts_i": ["data/routing/tuning/prompts_i.jsonl"],
        "tuning/prompts_j": ["data/routing/tuning/prompts_j.jsonl"],
        "tuning/presidio": ["data/routing/tuning/generated_presidio.jsonl"]}
only = sys.argv[2:] 
rt = Runtime(Settings())
errs = open(sys.argv[1], "w")
for name, files in sets.items():
    if only and name not in only: continue
    rows = load_routing([Path(f) for f in files])
    tot, hit = collections.Counter(), collections.Counter()
    for r in rows:
        local = rt.route_text(r.text).route != "server"
        k = kind_of(r); tot[k] += 1
        if local: hit[k] += 1
        if local != r.sensitive:
            d = rt.detector.classify(r.text)
            fs = [(f.entity_type, r.text[f.start:f.end], round(f.score, 2), f.level.name) for f in d.findings]
            errs.write(f"{name}\t{k}\t{r.id}\t{r.text!r}\t{fs}\n")
    parts = []
    for k in sorted(tot):
        if k == "benign":
            parts.append(f"benign_kept_local={hit[k]/tot[k]:.3f} ({hit[k]}/{tot[k]})")
        else:
            parts.append(f"{k}={hit[k]/tot[k]:.3f} ({tot[k]-hit[k]} leaks/{tot[k]})")
    print(name, " ".join(parts), flush=True)

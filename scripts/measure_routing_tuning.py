"""Per-kind routing figures on the dev and tuning sets only (never data/heldout/), via Runtime.route_text.

Usage: PYTHONPATH=$PWD OMP_NUM_THREADS=1 RAG_HOME=$(mktemp -d) .venv/bin/python scripts/measure_routing_tuning.py ERRORS_TSV [SET...]
SET: names as in `rag eval --suite routing` (dev, tuning, tuning_b ... tuning_n, tuning_generated); default all.
ERRORS_TSV gets one line per mis-routed prompt with its findings (error analysis)."""
import sys, collections
from pathlib import Path
from rag.config import Settings
from rag.runtime import Runtime
from evals.datasets import load_routing
from evals.suites import kind_of
from evals.runner import ROUTING_SETS
DATA = Path("data")
# the dev and tuning sets of `rag eval --suite routing` (the same names), never the held-out ones
sets = {name: [DATA / f for f in files] for name, files in ROUTING_SETS.items() if not name.startswith("heldout")}
only = sys.argv[2:]
rt = Runtime(Settings())
errs = open(sys.argv[1], "w")
for name, files in sets.items():
    if only and name not in only: continue
    rows = load_routing(files)
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

"""Single-query detection time: MiniLM with its old model vs multilingual E5 with the current one, alternated
in one process over the first 60 prompts of tuning_e (never data/heldout/).

Usage: OLD=$(mktemp -d); git show c3162e9:routing/personal_matter_model.json > $OLD/personal_matter_model.json;
  cp routing/recognizers.yaml $OLD/; PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python scripts/compare_matter_embedders.py $OLD
"""
import json, statistics, time, sys
from pathlib import Path
import numpy as np
from indexing.embedder import SentenceTransformerEmbedder
from indexing.e5_embedder import E5Embedder
from routing.detect import PresidioDetector
mini, e5 = SentenceTransformerEmbedder(), E5Embedder()
old = PresidioDetector.from_yaml(str(Path(sys.argv[1]) / "recognizers.yaml"), embed=mini.embed, embedder_name="all-MiniLM-L6-v2")
new = PresidioDetector.from_yaml("routing/recognizers.yaml", embed=e5.embed, embedder_name=e5.name)
rows = [json.loads(l) for l in Path("data/routing/tuning/prompts_e.jsonl").read_text().splitlines() if l.strip()][:60]
texts = [r["text"] for r in rows]
for d in (old, new):
    d.warm_up(); d.classify_many(texts[:5])
t = {"minilm": [], "e5": [], "emb_minilm": [], "emb_e5": []}
for x in texts:
    for name, d, emb in (("minilm", old, mini), ("e5", new, e5)):
        s = time.perf_counter(); d.classify(x); t[name].append(time.perf_counter() - s)
        s = time.perf_counter(); emb.embed([x]); t["emb_" + name].append(time.perf_counter() - s)
for k, v in t.items():
    v = sorted(v); print(f"{k}: n={len(v)} p50 {1000*statistics.median(v):.1f} ms  p90 {1000*v[int(0.9*len(v))]:.1f} ms  mean {1000*statistics.mean(v):.1f} ms")

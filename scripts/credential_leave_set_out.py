"""The shared-credential classifier's threshold, chosen leave-one-set-out on the dev and tuning sets only
(never data/heldout/): for each set, a model trained on all the others scores it; a prompt is flagged when
its score is at least the threshold and it holds a secret-shaped token (`value_candidates`, placeholders
removed as the detector removes them).

Usage: PYTHONPATH=$PWD OMP_NUM_THREADS=2 .venv/bin/python scripts/credential_leave_set_out.py [IDS_TSV]
Prints, per threshold, the secrets flagged and the benign prompts flagged (over all sets, each scored by a
model that never saw it); IDS_TSV (optional) gets every flagged prompt with its set, kind and score.
The figures are of the classifier alone: most secrets it flags are also caught by the recognizers."""
import json
import sys

import numpy as np

from rag.cli.detect_cmds import credential_training_files
from rag.config import Settings
from rag.runtime import build_classifier_embedder
from routing.detection_config import DetectionConfig, keep_credential
from routing.personal_matters import train_rows
from routing.shared_secret import LABEL, routing_rows, value_candidates

THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
placeholders = DetectionConfig.from_yaml("routing/recognizers.yaml").credential_placeholders
files = credential_training_files()
per_file = [routing_rows([f])[0] for f in files]
rows = [r for part in per_file for r in part]
group = np.concatenate([[i] * len(part) for i, part in enumerate(per_file)])
texts = [r["text"] for r in rows]
secret = np.asarray([r["label"] == LABEL for r in rows])
benign = np.asarray([not json.loads(line).get("sensitive") for f in files
                     for line in f.read_text(encoding="utf-8").splitlines() if line.strip()])
shaped = np.asarray([any(keep_credential(t, a, b, placeholders) for a, b in value_candidates(t)) for t in texts])
embedder = build_classifier_embedder(Settings())
vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
index = {t: i for i, t in enumerate(texts)}
scores = np.zeros(len(rows))
for g in range(len(files)):
    held = group == g
    model = train_rows([r for r, h in zip(rows, held) if not h], "", lambda ts: vectors[[index[t] for t in ts]],
                       embedder.name)
    scores[held] = model.matter_scores([t for t, h in zip(texts, held) if h], vectors[held])[0]
for t in THRESHOLDS:
    flagged = (np.round(scores, 3) >= t) & shaped
    print(f"threshold {t}: secrets flagged {int((flagged & secret).sum())}/{int(secret.sum())}, "
          f"benign prompts flagged {int((flagged & benign).sum())}/{int(benign.sum())}", flush=True)
if len(sys.argv) > 1:
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        for i in np.argsort(-scores):
            if shaped[i] and scores[i] >= min(THRESHOLDS):
                out.write(f"{files[group[i]].name}\t{rows[i]['id']}\t{rows[i]['label']}\t{scores[i]:.3f}\t{texts[i]!r}\n")

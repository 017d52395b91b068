"""Probe: P(yes) of a yes/no check on given answers (from out-SEED-VARIANT.json), per question."""
import json
import math
import sys
from pathlib import Path

from scripts import answer_variants as v

work, seed, variant, k = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = json.loads((work / f"questions-{seed}.json").read_text())
outs = {o["id"]: o["out"] for o in json.loads((work / f"out-{seed}-{variant}.json").read_text())}
b = v.local_backend()
llm = b._llm
res = []
import numpy as np
import llama_cpp


def yes_no(msgs):
    prompt = b._formatter(messages=msgs).prompt
    toks = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    llm.reset()
    llm.eval(toks)
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)).astype(np.float64)
    probs = np.exp(logits - logits.max()); probs /= probs.sum()
    ids = lambda w: {llm.tokenize(x.encode(), add_bos=False)[0] for x in (w, w.capitalize(), " " + w)}
    return float(sum(probs[i] for i in ids("yes"))), float(sum(probs[i] for i in ids("no")))


for r in rows:
    ans = outs[r["id"]]
    ctx = v.context({**r, "hits": r["hits"][:k]})
    msgs = [{"role": "system", "content": "You check answers against passages. Reply yes or no."},
            {"role": "user", "content": f"Passages:\n{ctx}\n\nQuestion: {r['question']}\nProposed answer: {ans}\n\n"
                                        "Do the passages state that this is the answer to exactly this question? yes or no"}]
    py, pn = yes_no(msgs)
    from evals import metrics
    f1 = metrics.token_f1(metrics.strip_citations(ans), r["answers"]) if r["answerable"] else -1
    res.append({"id": r["id"], "answerable": r["answerable"], "f1": f1, "pyes": py / (py + pn + 1e-9), "ans": ans})
    print(json.dumps(res[-1]), file=sys.stderr)
(work / f"probe-{seed}-{variant}-{k}.json").write_text(json.dumps(res, indent=1))

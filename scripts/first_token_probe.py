"""Probe: P(first answer token = 'I') under the adopted local prompt (2 passages), seed-101 tuning questions; prints the AUC."""
import json, sys
import numpy as np, llama_cpp
sys.path.insert(0, '.')
from scripts import answer_variants as v
rows = json.load(open('/tmp/at-answers/questions-101.json'))
b = v.local_backend(); llm = b._llm
I = {llm.tokenize(x.encode(), add_bos=False)[0] for x in ("I", " I")}
res = []
for r in rows:
    msgs = v.base({**r, "hits": r["hits"][:2]})
    toks = llm.tokenize(b._formatter(messages=msgs).prompt.encode(), add_bos=False, special=True)
    llm.reset(); llm.eval(toks)
    lg = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),)).astype(np.float64)
    p = np.exp(lg - lg.max()); p /= p.sum()
    res.append((r["answerable"], float(sum(p[i] for i in I))))
    print(res[-1], file=sys.stderr, flush=True)
a = [x for ok, x in res if ok]; u = [x for ok, x in res if not ok]
auc = np.mean([[1.0 if y > x else 0.5 if y == x else 0.0 for x in a] for y in u])
print(json.dumps({"auc_unanswerable_higher": auc, "answerable": sorted(a), "unanswerable": sorted(u)}))

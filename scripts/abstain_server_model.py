"""Abstention signals of the server model (Qwen2.5-Coder 1.5B) on llama.cpp (dev tool, not CI).

Same 100 questions as ``scripts/abstain_tuning.py`` (``answer_tuning.py retrieve --seed 101 --n 100
--exclude-sample 20 --work W``: seed 101, the CI seed-13 samples excluded). The 1.5B runs from its pinned
source GGUF (the artifact vLLM's folder is converted from; size and sha256 verified by the backend), not on
vLLM. Per question, on one llama.cpp context (shared prompt prefixes stay in its KV cache):

1. ``pre2`` / ``pre5``: P(yes) - P(no) of the pre-answer check (``abstain_tuning.PRECHECK``, asked before
   answering) with the 2 and the 5 best-ranked passages;
2. the answer with the project's prompt (``rag.prompts.build_messages``, 5 passages, greedy, 64 tokens,
   stop at a blank line) and its token logprobs;
3. ``quote``: the model copies the passage sentence that answers the question; ``quote_cover`` is the share
   of the question's content-word lemmas found in that sentence (a SQuAD 2.0 unanswerable question usually
   changes one detail of a passage sentence: a word the sentence lacks).

    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_server_model.py score --work W
    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_server_model.py report --work W [--small W0]
    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_server_model.py cost --work W --n 10
    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_server_model.py per-passage --work W  (then report --passage-subset)

Results of the 2026-12-01 run: scripts/results/abstain-server-101*; README "Answers".
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from scripts.abstain_tuning import PRECHECK, Recorder, auc

QUOTE = ("Question: {q}\n\nCopy, word for word, the one sentence from the passages above that answers this exact "
         "question. If no sentence answers it, reply: none.")
MAX_FALSE = 0.15


def backend(threads: int):
    """The 1.5B source GGUF of the default profile's server entry, pins verified, in llama.cpp."""
    from rag.config import Settings
    from rag.registry import ModelRegistry, resolve_settings
    from routing.backends.llama_cpp import LlamaCppBackend

    s = resolve_settings(Settings().model_copy(update={"model_profile": "default"}))
    reg = ModelRegistry.load(s.models_registry_path, "default")
    art = reg.artifacts[reg.for_role("server").source_artifact]
    b = LlamaCppBackend(s.vllm_source_gguf, n_threads=threads, n_ctx=4096,
                        expected_size=art.size, expected_sha256=s.vllm_source_sha256)
    b.warm_up()
    return b


def _hits(row: dict, k: int) -> list:
    return [SimpleNamespace(title=h["title"], text=h["text"]) for h in row["hits"][:k]]


def yes_no(llm, msgs) -> tuple[float, float]:
    """P(yes) - P(no) (log scale) of the next token after `msgs`, and the seconds it took."""
    rec = Recorder()
    from llama_cpp import LogitsProcessorList
    t0 = time.perf_counter()
    llm.create_chat_completion(msgs, max_tokens=1, temperature=0.0, seed=0, logits_processor=LogitsProcessorList([rec]))
    d = rec.steps[0]
    lp = lambda ws: float(np.logaddexp.reduce([d[llm.tokenize(w.encode(), add_bos=False)[0]] for w in ws]))
    return lp(["yes", "Yes"]) - lp(["no", "No"]), time.perf_counter() - t0


def answer(llm, msgs, max_tokens: int = 64, stop=("\n\n",)) -> tuple[str, list[float], float]:
    """Greedy text, the logprob of each chosen token, seconds."""
    from llama_cpp import LogitsProcessorList
    rec = Recorder()
    t0 = time.perf_counter()
    out = llm.create_chat_completion(msgs, max_tokens=max_tokens, temperature=0.0, stop=list(stop), seed=0,
                                     logits_processor=LogitsProcessorList([rec]))
    secs = time.perf_counter() - t0
    ids = list(llm._input_ids)
    chosen = ids[rec.seen[0]: rec.seen[0] + len(rec.steps)]
    if len(chosen) < len(rec.steps):
        chosen.append(int(np.argmax(rec.steps[len(chosen)])))
    return (out["choices"][0]["message"]["content"] or "").strip(), [float(s[t]) for s, t in zip(rec.steps, chosen)], secs


def one(llm, row: dict) -> dict:
    from evals import metrics
    from evals.suites import is_abstention
    from rag.prompts import build_messages

    q = row["question"]
    pre2, t_pre2 = yes_no(llm, build_messages(PRECHECK.format(q=q), [], _hits(row, 2)))
    pre5, t_pre5 = yes_no(llm, build_messages(PRECHECK.format(q=q), [], _hits(row, 5)))
    text, lps, t_ans = answer(llm, build_messages(q, [], _hits(row, 5)))
    quote, _, t_quote = answer(llm, build_messages(QUOTE.format(q=q), [], _hits(row, 5)), max_tokens=96, stop=("\n",))
    plain = metrics.strip_citations(text)
    return {"id": row["id"], "answerable": row["answerable"], "answers": row["answers"][:3], "text": text,
            "abstained_text": is_abstention(plain),
            "f1": metrics.token_f1(plain, row["answers"]) if row["answerable"] else None,
            "pre2": pre2, "pre5": pre5, "lps": lps, "quote": quote,
            "t_pre2": t_pre2, "t_pre5": t_pre5, "t_answer": t_ans, "t_quote": t_quote}


def score(args: argparse.Namespace) -> None:
    rows = json.loads((Path(args.work) / f"questions-{args.seed}.json").read_text())
    kinds = [[r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]]
    rows = [r for pair in zip(*kinds) for r in pair]  # alternate the kinds: a partial run stays balanced
    path = Path(args.work) / f"server-scores-{args.seed}.jsonl"
    done = {json.loads(x)["id"] for x in path.read_text().splitlines()} if path.exists() else set()
    llm = backend(args.threads)._llm
    with path.open("a") as fh:
        for i, row in enumerate(rows[: args.limit]):
            if row["id"] in done:
                continue
            r = one(llm, row)
            fh.write(json.dumps(r) + "\n")
            fh.flush()
            print(f"{i} {'A' if r['answerable'] else 'U'} {r['text']!r:36.36} pre2={r['pre2']:.2f} pre5={r['pre5']:.2f} "
                  f"quote={r['quote'][:50]!r} t={r['t_pre2']:.1f}/{r['t_pre5']:.1f}/{r['t_answer']:.1f}/{r['t_quote']:.1f}s",
                  file=sys.stderr)


CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV"}
LIGHT = {"be", "do", "have", "not", "also", "so", "then", "there", "how", "when", "where", "why"}


class Lemmas:
    """Content-word lemmas (nouns, proper nouns, verbs, adjectives, numbers, adverbs; lower case) with spaCy."""

    def __init__(self) -> None:
        import spacy
        from rag.config import Settings
        self.nlp = spacy.load(Settings().spacy_model, disable=["ner"])

    def content(self, text: str) -> set[str]:
        return {t.lemma_.lower() for t in self.nlp(text) if t.pos_ in CONTENT_POS and t.lemma_.lower() not in LIGHT}

    def all(self, text: str) -> set[str]:
        return {t.lemma_.lower() for t in self.nlp(text) if not t.is_punct}

    def sentences(self, text: str) -> list[set[str]]:
        return [{t.lemma_.lower() for t in s if not t.is_punct} for s in self.nlp(text).sents]


def features(rows: list[dict], work: Path, small_dir: Path | None, seed: int) -> list[dict]:
    """Per-question scores (higher = more likely answerable) from the 1.5B record, the text, and the 0.5B's."""
    lem = Lemmas()
    questions = {r["id"]: r for r in json.loads((work / f"questions-{seed}.json").read_text())}
    small = {}
    if small_dir and (small_dir / f"scores-{seed}.jsonl").exists():
        small = {json.loads(x)["id"]: json.loads(x) for x in (small_dir / f"scores-{seed}.jsonl").read_text().splitlines()}
        for x in (small_dir / f"precheck-{seed}.jsonl").read_text().splitlines():
            small[json.loads(x)["id"]]["pre"] = json.loads(x)["pre_yes_minus_no"]
    pfile = work / f"passage-{seed}.jsonl"
    passage = {json.loads(x)["id"]: json.loads(x) for x in pfile.read_text().splitlines()} if pfile.exists() else {}
    out = []
    for r in rows:
        q = lem.content(r["question"] if "question" in r else questions[r["id"]]["question"])
        hits = questions[r["id"]]["hits"]
        quote = lem.all(r["quote"]) if r["quote"].strip().lower().rstrip(".") != "none" else set()
        sents = [s for h in hits for s in lem.sentences(h["text"])]
        answer_words = lem.all(re.sub(r"\[\d+\]", " ", r["text"])) if not r["abstained_text"] else set()
        f = {"pre2": r["pre2"], "pre5": r["pre5"], "ans_min": min(r["lps"]), "ans_mean": float(np.mean(r["lps"])),
             "quote_cover": len(q & quote) / len(q) if q else 1.0,
             "quote_missing": -len(q - quote),
             "quote_sent_cover": _cover(q, _source(quote, sents)),
             "ans_sent_cover": _cover(q, _source(answer_words, sents)),
             "lex_best5": max((len(q & s) / len(q) for s in sents), default=0.0) if q else 1.0,
             "lex_best2": max((len(q & s) / len(q) for h in hits[:2] for s in lem.sentences(h["text"])), default=0.0) if q else 1.0}
        if r["id"] in passage:
            m = passage[r["id"]]["margins"]
            f.update({"pre1_top": m[0], "pre1_max2": max(m[:2]), "pre1_max3": max(m)})
        if r["id"] in small:
            sm = small[r["id"]]
            f.update({"small_pre": sm["pre"], "small_span_min": sm["span_min"], "small_yes_minus_no": sm["yes_minus_no"]})
        out.append({**r, "feat": f})
    return out


def _source(words: set[str], sents: list[set[str]]) -> set[str]:
    """The passage sentence (as lemmas) sharing most words with `words` (a quote or an answer); empty if none."""
    best = max(sents, key=lambda sent: len(words & sent), default=set())
    return best if words & best else set()


def _cover(q: set[str], sent: set[str]) -> float:
    """Share of the question's content lemmas found in `sent` (1.0 for a question without content words)."""
    return len(q & sent) / len(q) if q else 1.0


def best_point(ans_scores, una_scores, ans_idk, una_idk, max_false: float = MAX_FALSE):
    """Abstain when score < t or the answer is "I don't know.": the t with the most abstention at false <= max_false."""
    best = (-np.inf, sum(una_idk) / len(una_idk), sum(ans_idk) / len(ans_idk))
    for t in sorted(set(ans_scores) | set(una_scores)) + [np.inf]:
        fa = np.mean([i or s < t for s, i in zip(ans_scores, ans_idk)])
        ab = np.mean([i or s < t for s, i in zip(una_scores, una_idk)])
        if fa <= max_false and (ab, -fa) > (best[1], -best[2]):
            best = (t, ab, fa)
    return best


def cv_logistic(rows: list[dict], names: list[str], repeats: int = 20) -> dict:
    """Cross-validated logistic regression on `names`: out-of-fold AUC and abstention/false abstention at the
    threshold chosen on the training folds (most training abstention with training false <= MAX_FALSE)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.array([[r["feat"][n] for n in names] for r in rows])
    y = np.array([int(r["answerable"]) for r in rows])
    idk = np.array([bool(r["abstained_text"]) for r in rows])
    aucs, abst, false = [], [], []
    for rep in range(repeats):
        prob = np.zeros(len(y))
        abstain = np.zeros(len(y), dtype=bool)
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=rep).split(x, y):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(x[tr], y[tr])
            p_tr = model.predict_proba(x[tr])[:, 1]
            pos, neg = tr[y[tr] == 1], tr[y[tr] == 0]
            t, _, _ = best_point(list(p_tr[y[tr] == 1]), list(p_tr[y[tr] == 0]), list(idk[pos]), list(idk[neg]))
            prob[te] = model.predict_proba(x[te])[:, 1]
            abstain[te] = idk[te] | (prob[te] < t)
        aucs.append(auc(list(prob[y == 1]), list(prob[y == 0])))
        abst.append(abstain[y == 0].mean())
        false.append(abstain[y == 1].mean())
    return {"auc": float(np.mean(aucs)), "abst": float(np.mean(abst)), "false": float(np.mean(false)),
            "abst_range": (float(np.min(abst)), float(np.max(abst))), "false_range": (float(np.min(false)), float(np.max(false)))}


def report(args: argparse.Namespace) -> None:
    work = Path(args.work)
    rows = [json.loads(x) for x in (work / f"server-scores-{args.seed}.jsonl").read_text().splitlines()]
    rows = features(rows, work, Path(args.small) if args.small else None, args.seed)
    if args.passage_subset:  # only the questions the per-passage check has scored so far
        rows = [r for r in rows if "pre1_top" in r["feat"]]
    common = set.intersection(*(set(r["feat"]) for r in rows))
    rows = [{**r, "feat": {k: v for k, v in r["feat"].items() if k in common}} for r in rows]
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    f1 = lambda keep: np.mean([0.0 if not k else r["f1"] for r, k in zip(ans, keep)])
    print(f"n={len(rows)} (answerable {len(ans)}); 1.5B own \"I don't know.\": unanswerable "
          f"{np.mean([r['abstained_text'] for r in una]):.2f}, answerable {np.mean([r['abstained_text'] for r in ans]):.2f}; "
          f"F1 (answerable) {f1([not r['abstained_text'] for r in ans]):.3f}")
    for k in ("t_pre2", "t_pre5", "t_answer", "t_quote"):
        print(f"  {k}: median {np.median([r[k] for r in rows]):.1f} s, mean {np.mean([r[k] for r in rows]):.1f} s")
    print("score: AUC | best abstention at false <= 0.15 (threshold: abstain when score < t, or the answer is IDK) | false | F1")
    for name in rows[0]["feat"]:
        a, u = [r["feat"][name] for r in ans], [r["feat"][name] for r in una]
        t, ab, fa = best_point(a, u, [r["abstained_text"] for r in ans], [r["abstained_text"] for r in una])
        keep = [not (r["abstained_text"] or r["feat"][name] < t) for r in ans]
        print(f"  {name:20s} AUC {auc(a, u):.2f} | {ab:.2f} (< {t:.3g}) | {fa:.2f} | {f1(keep):.3f}")
    combos = [c.split(",") for c in args.combos]
    for names in combos:
        names = [n for n in names if n in rows[0]["feat"]]
        if not names:
            continue
        cv = cv_logistic(rows, names)
        lo_a, hi_a = cv["abst_range"]
        lo_f, hi_f = cv["false_range"]
        print(f"  LR[{'+'.join(names)}] 5-fold x20: AUC {cv['auc']:.2f} | abstention {cv['abst']:.2f} "
              f"({lo_a:.2f}-{hi_a:.2f}) | false {cv['false']:.2f} ({lo_f:.2f}-{hi_f:.2f})")


def per_passage(args: argparse.Namespace) -> None:
    """The pre-answer check asked of each of the 3 best-ranked passages alone (margins into passage-SEED.jsonl)."""
    from rag.prompts import build_messages

    rows = json.loads((Path(args.work) / f"questions-{args.seed}.json").read_text())
    kinds = [[r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]]
    rows = [r for pair in zip(*kinds) for r in pair]
    path = Path(args.work) / f"passage-{args.seed}.jsonl"
    done = {json.loads(x)["id"] for x in path.read_text().splitlines()} if path.exists() else set()
    llm = backend(args.threads)._llm
    with path.open("a") as fh:
        for row in (r for r in rows if r["id"] not in done):
            hits = _hits(row, 3)
            res = [yes_no(llm, build_messages(PRECHECK.format(q=row["question"]), [], [h])) for h in hits]
            r = {"id": row["id"], "answerable": row["answerable"], "margins": [m for m, _ in res],
                 "seconds": [t for _, t in res]}
            fh.write(json.dumps(r) + "\n")
            fh.flush()
            print(r, file=sys.stderr)


def cost(args: argparse.Namespace) -> None:
    """Seconds per answer with and without a check before it, each from a cold KV cache (`llm.reset()`)."""
    from rag.prompts import build_messages

    rows = json.loads((Path(args.work) / f"questions-{args.seed}.json").read_text())
    kinds = [[r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]]
    rows = [r for pair in zip(*kinds) for r in pair][: args.n]
    llm = backend(args.threads)._llm
    k = args.passages
    plain, pre, quote = [], [], []
    for row in rows:
        q, hits = row["question"], _hits(row, k)
        llm.reset()
        plain.append(answer(llm, build_messages(q, [], hits))[2])
        llm.reset()
        _, t_check = yes_no(llm, build_messages(PRECHECK.format(q=q), [], hits))
        pre.append(t_check + answer(llm, build_messages(q, [], hits))[2])
        llm.reset()
        t_quote = answer(llm, build_messages(QUOTE.format(q=q), [], hits), max_tokens=96, stop=("\n",))[2]
        quote.append(t_quote + answer(llm, build_messages(q, [], hits))[2])
        print(f"answer {plain[-1]:.1f} s; check+answer {pre[-1]:.1f} s; quote+answer {quote[-1]:.1f} s", file=sys.stderr)
    print(json.dumps({"n": len(rows), "passages": k, "threads": args.threads,
                      "answer_s": round(float(np.mean(plain)), 2), "check_then_answer_s": round(float(np.mean(pre)), 2),
                      "quote_then_answer_s": round(float(np.mean(quote)), 2)}))


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("score")
    a.add_argument("--work", required=True)
    a.add_argument("--seed", type=int, default=101)
    a.add_argument("--limit", type=int, default=1000)
    a.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("report")
    b.add_argument("--work", required=True)
    b.add_argument("--seed", type=int, default=101)
    b.add_argument("--passage-subset", action="store_true", help="only questions with per-passage margins")
    b.add_argument("--small", help="the 0.5B's abstain_tuning.py work dir: add its scores as features")
    b.add_argument("--combos", nargs="*", default=["pre2", "pre5", "pre2,pre5", "pre2,small_pre", "pre2,lex_best5", "pre1_max3", "pre2,pre1_max3", "pre2,pre5,ans_min,quote_cover,quote_sent_cover,ans_sent_cover,lex_best5",
                   "pre2,pre5,ans_min,ans_mean,quote_cover,quote_missing,quote_sent_cover,ans_sent_cover,lex_best5,lex_best2,small_pre,small_span_min,small_yes_minus_no"])
    c = sub.add_parser("cost")
    c.add_argument("--work", required=True)
    c.add_argument("--seed", type=int, default=101)
    c.add_argument("--n", type=int, default=10)
    c.add_argument("--passages", type=int, default=5)
    c.add_argument("--threads", type=int, default=2)
    d = sub.add_parser("per-passage")
    d.add_argument("--work", required=True)
    d.add_argument("--seed", type=int, default=101)
    d.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    {"score": score, "report": report, "cost": cost, "per-passage": per_passage}[args.cmd](args)


if __name__ == "__main__":
    main()

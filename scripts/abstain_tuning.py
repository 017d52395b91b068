"""Confidence-based abstention on the local llama.cpp path: scores and trade-off curves (dev tool, not CI).

Reads the questions cached by ``scripts/answer_tuning.py retrieve`` (seed 101, the CI seed-13 sample
excluded), answers each with the project's prompt (`rag.prompts.build_messages`, the local model's
``max_passages`` best-ranked passages) on the real 0.5B GGUF (pins verified by the backend), and records
per question: the answer, per-token logprobs of the greedy answer (from a logits processor: no
``logits_all``), P(first token = "I"), and P(yes) vs P(no) for a follow-up "Does passage [n] state the
answer to the question?" turn scored from the next-token logits (the shared prompt prefix stays in
llama.cpp's KV cache).

    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_tuning.py score --work /tmp/abst --seed 101
    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_tuning.py curves --work /tmp/abst --seed 101
    PYTHONPATH=$PWD .venv/bin/python scripts/abstain_tuning.py precheck --work /tmp/abst --per-kind 50

``precheck`` scores the yes/no margin asked BEFORE answering ("Do the passages above state the answer to
this exact question?", the question turn wrapped, same system prompt and passages) into precheck-SEED.jsonl.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

CHECK = "Does passage [{n}] state the answer to the question? Answer yes or no."


class Recorder:
    """A llama.cpp logits processor that keeps the log-softmax of each step's logits (does not change them)."""

    def __init__(self) -> None:
        self.steps: list[np.ndarray] = []
        self.seen: list[int] = []  # input ids length at each call

    def __call__(self, input_ids, logits):
        x = np.asarray(logits, dtype=np.float64)
        m = x.max()
        self.steps.append((x - m - math.log(np.exp(x - m).sum())).astype(np.float32))
        self.seen.append(len(input_ids))
        return logits


def backend(threads: int):
    from rag.config import Settings
    from rag.registry import resolve_settings
    from routing.backends.llama_cpp import LlamaCppBackend

    s = resolve_settings(Settings().model_copy(update={"model_profile": "default"}))
    b = LlamaCppBackend(s.llama_model_path, n_threads=threads, n_ctx=s.llama_ctx,
                        expected_size=s.llama_model_size, expected_sha256=s.llama_model_sha256)
    b.warm_up()
    return b, s


def one(b, row: dict, max_passages: int) -> dict:
    from llama_cpp import LogitsProcessorList

    from evals import metrics
    from evals.suites import is_abstention
    from rag.prompts import STOP, build_messages

    llm, fmt = b._llm, b._formatter
    hits = [SimpleNamespace(title=h["title"], text=h["text"]) for h in row["hits"][:max_passages]]
    msgs = build_messages(row["question"], [], hits)
    rec = Recorder()
    t0 = time.perf_counter()
    out = llm.create_chat_completion(msgs, max_tokens=64, temperature=0.0, stop=list(STOP), seed=0,
                                     logits_processor=LogitsProcessorList([rec]))
    t_gen = time.perf_counter() - t0
    text = (out["choices"][0]["message"]["content"] or "").strip()
    ids = list(llm._input_ids)
    start = rec.seen[0]
    chosen = ids[start:start + len(rec.steps)]
    if len(chosen) < len(rec.steps):  # the last sampled token is not evaluated: greedy = argmax
        chosen.append(int(np.argmax(rec.steps[len(chosen)])))
    lps = [float(s[t]) for s, t in zip(rec.steps, chosen)]
    toks = [llm.detokenize([t]).decode("utf-8", "replace") for t in chosen]
    tok_i = llm.tokenize(b"I", add_bos=False, special=False)[0]
    p_idk = math.exp(float(rec.steps[0][tok_i]))
    # answer span: tokens before the first "[" or stop/eos
    eos = {llm.token_eos(), *llm.tokenize(b"<|im_end|>", add_bos=False, special=True)}
    span = []
    for tk, lp, t in zip(chosen, lps, toks):
        if tk in eos or "[" in t or "\n" in t:
            break
        span.append(lp)
    cited = metrics.cited_numbers(text)
    n = cited[0] if cited and 1 <= cited[0] <= len(hits) else 1
    check = [*msgs, {"role": "assistant", "content": text}, {"role": "user", "content": CHECK.format(n=n)}]
    prompt2 = fmt(messages=check).prompt
    rec2 = Recorder()
    t1 = time.perf_counter()
    llm.create_completion(prompt2, max_tokens=1, temperature=0.0, seed=0, logits_processor=LogitsProcessorList([rec2]))
    t_chk = time.perf_counter() - t1
    d = rec2.steps[0]
    def lp_of(words):
        ids_ = [llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words]
        return float(np.logaddexp.reduce([d[i] for i in ids_]))
    lp_yes, lp_no = lp_of(["yes", "Yes"]), lp_of(["no", "No"])
    answer = metrics.strip_citations(text)
    norm = metrics.normalize_answer(answer).split()
    ptext = " ".join(metrics.normalize_answer(h.text) for h in hits)
    pwords = set(metrics.normalize_answer(" ".join(h.text for h in hits)).split())
    return {
        "id": row["id"], "answerable": row["answerable"], "answers": row["answers"][:3], "text": text,
        "abstained_text": is_abstention(answer), "f1": metrics.token_f1(answer, row["answers"]) if row["answerable"] else None,
        "tokens": toks, "lps": lps, "p_idk_first": p_idk,
        "span_min": min(span) if span else 0.0, "span_mean": sum(span) / len(span) if span else 0.0,
        "span_sum": sum(span), "span_len": len(span),
        "yes_minus_no": lp_yes - lp_no, "p_yes": math.exp(lp_yes), "p_no": math.exp(lp_no),
        "overlap": (sum(w in pwords for w in norm) / len(norm)) if norm else 0.0,
        "substring": bool(norm) and " ".join(norm) in ptext,
        "t_gen": t_gen, "t_check": t_chk, "prompt_tokens": out["usage"]["prompt_tokens"], "ptext_len": len(ptext),
    }


def score(args: argparse.Namespace) -> None:
    rows = json.loads((Path(args.work) / f"questions-{args.seed}.json").read_text())
    b, s = backend(args.threads)
    path = Path(args.work) / f"scores-{args.seed}.jsonl"
    done = {json.loads(x)["id"] for x in path.read_text().splitlines()} if path.exists() else set()
    with path.open("a") as fh:
        for i, row in enumerate(rows[: args.limit]):
            if row["id"] in done:
                continue
            r = one(b, row, s.local_max_passages or 2)
            fh.write(json.dumps(r) + "\n")
            fh.flush()
            print(f"{i} {'A' if r['answerable'] else 'U'} {r['text']!r:40.40} pI={r['p_idk_first']:.2f} "
                  f"min={r['span_min']:.2f} mean={r['span_mean']:.2f} y-n={r['yes_minus_no']:.2f} "
                  f"ov={r['overlap']:.2f} gen={r['t_gen']:.1f}s chk={r['t_check']:.1f}s", file=sys.stderr)


SCORES = {  # higher = more confident the question is answered (abstain when below threshold)
    "neg_p_idk_first": lambda r: -r["p_idk_first"],
    "span_min": lambda r: r["span_min"],
    "span_mean": lambda r: r["span_mean"],
    "yes_minus_no": lambda r: r["yes_minus_no"],
    "overlap": lambda r: r["overlap"],
    "span_sum": lambda r: r["span_sum"],
    "first_lp": lambda r: r["lps"][0] if r["lps"] else 0.0,
}


def auc(pos: list[float], neg: list[float]) -> float:
    """P(score of an answerable question > score of an unanswerable one), ties count half."""
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def curves(args: argparse.Namespace) -> None:
    rows = [json.loads(x) for x in (Path(args.work) / f"scores-{args.seed}.jsonl").read_text().splitlines()]
    pre_path = Path(args.work) / f"precheck-{args.seed}.jsonl"
    pre = {json.loads(x)["id"]: json.loads(x) for x in pre_path.read_text().splitlines()} if pre_path.exists() else {}
    if pre:  # the pre-answer check, on the questions it scored
        rows = [{**r, "pre_yes_minus_no": pre[r["id"]]["pre_yes_minus_no"]} for r in rows if r["id"] in pre]
        SCORES["pre_yes_minus_no"] = lambda r: r["pre_yes_minus_no"]
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    base_f1 = sum(0.0 if r["abstained_text"] else r["f1"] for r in ans) / len(ans)
    print(f"n={len(rows)} answerable={len(ans)} unanswerable={len(una)}  no-threshold: "
          f"abst={sum(r['abstained_text'] for r in una) / len(una):.2f} "
          f"false={sum(r['abstained_text'] for r in ans) / len(ans):.2f} F1={base_f1:.3f}")
    for name, fn in SCORES.items():
        vals = sorted({fn(r) for r in rows})
        qs = [vals[int(q * (len(vals) - 1))] for q in np.linspace(0, 1, 21)]
        print(f"\n{name} (AUC answerable-vs-unanswerable {auc([fn(r) for r in ans], [fn(r) for r in una]):.2f}): threshold  abst_unans  false_abst  F1(ans)  [abstain when score < threshold; text IDK also abstains]")
        for t in sorted(set(qs)):
            a = [r["abstained_text"] or fn(r) < t for r in una]
            f = [r["abstained_text"] or fn(r) < t for r in ans]
            f1 = sum(0.0 if ab else r["f1"] for r, ab in zip(ans, f)) / len(ans)
            print(f"  {t:9.3f}  {sum(a) / len(a):.2f}  {sum(f) / len(f):.2f}  {f1:.3f}")


PRECHECK = "Question: {q}\n\nDo the passages above state the answer to this exact question? Answer yes or no."


def precheck(args: argparse.Namespace) -> None:
    """Before answering: P(yes) - P(no) for "do the passages state the answer?" (same system prompt and passages)."""
    from llama_cpp import LogitsProcessorList

    from rag.prompts import build_messages

    rows = json.loads((Path(args.work) / f"questions-{args.seed}.json").read_text())
    rows = [r for r in rows if r["answerable"]][: args.per_kind] + [r for r in rows if not r["answerable"]][: args.per_kind]
    out = Path(args.work) / f"precheck-{args.seed}.jsonl"
    done = {json.loads(x)["id"] for x in out.read_text().splitlines()} if out.exists() else set()
    b, s = backend(args.threads)
    llm = b._llm
    with out.open("a") as fh:
        for row in (r for r in rows if r["id"] not in done):
            hits = [SimpleNamespace(title=h["title"], text=h["text"]) for h in row["hits"][: s.local_max_passages or 2]]
            msgs = build_messages(PRECHECK.format(q=row["question"]), [], hits)
            rec = Recorder()
            llm.create_chat_completion(msgs, max_tokens=1, temperature=0.0, seed=0,
                                       logits_processor=LogitsProcessorList([rec]))
            d = rec.steps[0]
            lp = lambda ws: float(np.logaddexp.reduce([d[llm.tokenize(w.encode(), add_bos=False)[0]] for w in ws]))
            r = {"id": row["id"], "answerable": row["answerable"], "pre_yes_minus_no": lp(["yes", "Yes"]) - lp(["no", "No"])}
            fh.write(json.dumps(r) + "\n")
            fh.flush()
            print(r, file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("score")
    a.add_argument("--work", required=True)
    a.add_argument("--seed", type=int, default=101)
    a.add_argument("--limit", type=int, default=1000)
    a.add_argument("--threads", type=int, default=2)
    c = sub.add_parser("curves")
    c.add_argument("--work", required=True)
    c.add_argument("--seed", type=int, default=101)
    d = sub.add_parser("precheck")
    d.add_argument("--work", required=True)
    d.add_argument("--seed", type=int, default=101)
    d.add_argument("--per-kind", type=int, default=20)
    d.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    {"score": score, "curves": curves, "precheck": precheck}[args.cmd](args)


if __name__ == "__main__":
    main()

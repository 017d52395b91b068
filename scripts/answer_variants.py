"""Prompt variants for scripts/answer_tuning.py (each: cached row -> answer text with the local model)."""
from __future__ import annotations

from indexing.types import passage_text

ABSTAIN = "I don't know."

BASE_SYSTEM = (
    "You are the company knowledge assistant. Answer questions from the numbered context passages only. "
    "Reply with the answer alone: the few words from a passage that answer the question (no full "
    "sentence, no explanation), then the passage number in brackets, e.g. \"Paris [2]\". If no passage "
    "states the answer to this exact question, reply exactly: I don't know."
)


def local_backend(threads: int = 1):
    from rag.config import Settings
    from rag.registry import resolve_settings
    from routing.backends.llama_cpp import LlamaCppBackend

    s = resolve_settings(Settings().model_copy(update={"model_profile": "default"}))
    b = LlamaCppBackend(s.llama_model_path, n_threads=threads, n_ctx=s.llama_ctx)
    b.warm_up()
    return b


def server_backend():
    from rag.config import Settings
    from rag.registry import resolve_settings
    from routing.backends.openai_compat import OpenAICompatBackend

    s = resolve_settings(Settings().model_copy(update={"model_profile": "default"}))
    return OpenAICompatBackend(s.vllm_url, s.vllm_model, timeout_s=600)


def context(row: dict) -> str:
    return "\n\n".join(f"[{i}] {passage_text(h['title'], h['text'])}" for i, h in enumerate(row["hits"], start=1))


def base(row):
    return [{"role": "system", "content": f"{BASE_SYSTEM}\n\nContext:\n{context(row)}"},
            {"role": "user", "content": row["question"]}]


FEW_SHOT = [
    ("[1] Harbor Days: The Larkfield harbor festival began in 1931 and is held every August on the east pier.\n\n"
     "[2] Larkfield Ferries: The ferry to Brisa Island leaves every 40 minutes from the west pier.",
     "When did the Larkfield harbor festival begin?", "1931 [1]"),
    ("[1] Harbor Days: The Larkfield harbor festival began in 1931 and is held every August on the east pier.\n\n"
     "[2] Larkfield Ferries: The ferry to Brisa Island leaves every 40 minutes from the west pier.",
     "When did the Brisa Island festival begin?", ABSTAIN),
]


def few_shot(row, system=BASE_SYSTEM, q_in_user=True):
    msgs = [{"role": "system", "content": system}]
    for ctx, q, a in FEW_SHOT:
        msgs += [{"role": "user", "content": f"Context:\n{ctx}\n\nQuestion: {q}"}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": f"Context:\n{context(row)}\n\nQuestion: {row['question']}"})
    return msgs


def q_twice(row):
    return [{"role": "system", "content": BASE_SYSTEM},
            {"role": "user", "content": f"Question: {row['question']}\n\nContext:\n{context(row)}\n\n"
                                        f"Question: {row['question']}"}]


VARIANTS = {
    "base": (base, ("\n\n",)),
    "fewshot": (few_shot, ("\n\n",)),
    "qtwice": (q_twice, ("\n\n",)),
}


def answer(name: str, backend, row: dict) -> str:
    build, stop = VARIANTS[name]
    gen = backend.generate(build(row), max_tokens=64, temperature=0.0, stop=stop)
    return gen.text.strip()


FS_SYSTEM = (
    "You answer questions from the numbered context passages only. Reply with the shortest span of words "
    "copied from a passage that answers the question, then the passage number in brackets, e.g. \"1931 [1]\". "
    "If no passage answers this exact question, reply exactly: I don't know."
)

CHECK = ("Check: does a passage state this answer to exactly the question asked (same person, thing, "
         "time and detail)? Reply yes or no.")


def fewshot2(row):
    return few_shot(row, system=FS_SYSTEM)


def verified(build, check=CHECK):
    """Answer, then (same conversation, so the KV cache is reused) ask the model to check it."""
    def run(backend, row, stop):
        msgs = build(row)
        text = backend.generate(msgs, max_tokens=64, temperature=0.0, stop=stop).text.strip()
        row["_raw"] = text
        if text.lower().startswith("i don't know") or not text:
            return text
        follow = msgs + [{"role": "assistant", "content": text}, {"role": "user", "content": check}]
        verdict = backend.generate(follow, max_tokens=3, temperature=0.0, stop=("\n",)).text.strip().lower()
        row.setdefault("_verdicts", []).append(verdict)
        return text if verdict.startswith("yes") else ABSTAIN
    return run


VARIANTS.update({
    "fewshot2": (fewshot2, ("\n\n",)),
    "base_v": (verified(base), ("\n\n",)),
    "fewshot_v": (verified(few_shot), ("\n\n",)),
    "fewshot2_v": (verified(fewshot2), ("\n\n",)),
})


def answer(name: str, backend, row: dict) -> str:  # noqa: F811 - replaces the simple version
    build, stop = VARIANTS[name]
    if build.__name__ == "run":
        return build(backend, row, stop)
    gen = backend.generate(build(row), max_tokens=64, temperature=0.0, stop=stop)
    return gen.text.strip()


def _answer_k(name: str, backend, row: dict) -> str:
    """`variant@k`: the variant with only the first k passages."""
    if "@" in name:
        name, k = name.split("@")
        cut = {**row, "hits": row["hits"][: int(k)]}
        text = _answer_plain(name, backend, cut)
        row.update({key: cut[key] for key in ("_raw", "_verdicts") if key in cut})
        return text
    return _answer_plain(name, backend, row)


_answer_plain = answer
answer = _answer_k  # noqa: F811


TAIL_RULES = ("Answer with the shortest phrase copied from the passages (a name, number, date or a few words; "
              "no sentence), then the passage number in brackets, like: 1931 [1]. If the passages do not "
              "answer this exact question, reply exactly: I don't know.")


def tail(row):
    return [{"role": "system", "content": "You answer questions using only the numbered context passages."},
            {"role": "user", "content": f"Context:\n{context(row)}\n\nQuestion: {row['question']}\n\n{TAIL_RULES}"}]


def tail_q(row):
    return [{"role": "system", "content": "You answer questions using only the numbered context passages."},
            {"role": "user", "content": f"Question: {row['question']}\n\nContext:\n{context(row)}\n\n"
                                        f"Question: {row['question']}\n\n{TAIL_RULES}"}]


VARIANTS.update({"tail": (tail, ("\n\n",)), "tail_q": (tail_q, ("\n\n",))})


SIMPLE = ("Answer the question from the context passages. Give only the short answer phrase, copied from "
          "the context, and the number of its passage in brackets. If the context does not contain the "
          "answer, say: I don't know.")


def simple(row):
    return [{"role": "system", "content": f"{SIMPLE}\n\nContext:\n{context(row)}"},
            {"role": "user", "content": row["question"]}]


def simple_u(row):
    return [{"role": "system", "content": SIMPLE},
            {"role": "user", "content": f"Context:\n{context(row)}\n\nQuestion: {row['question']}"}]


VARIANTS.update({"simple": (simple, ("\n\n",)), "simple_u": (simple_u, ("\n\n",))})

"""The answer prompt: system instructions, numbered passages, history, question; and how answers stop.

One prompt serves every profile's models (Qwen2.5-Coder 0.5B/1.5B, SmolLM2-135M): each backend
renders the messages with its model's own chat template (the GGUF's for llama.cpp, the HF
tokenizer's for vLLM; for the Qwen 1.5B both render the same text and the same token ids), so
nothing here is model-specific markup. What differs per model lives in models.yaml ``decoding``
and reaches the assistant through the settings: the answer budget (``max_new_tokens``) and the
number of passages the model is given (``max_passages``: the 0.5B gets the 2 best-ranked ones).

The instructions ask for (1) the answer alone, in the passages' words (measured on a SQuAD tuning
sample: "one or two sentences" answers scored F1 ~0.4 on the server model, phrase answers more),
(2) the passage number it rests on, like ``[2]``, and (3) exactly "I don't know." when the passages
do not hold the answer; `evals.suites` scores all three (token F1 without the markers, citation
accuracy from the markers, abstention on unanswerable questions).

Measured and rejected (tuning seed 101, never the CI/eval seed 13; README "Answers"): two
fictional few-shot turns (one answerable, one "I don't know."), instructions after the question,
a shorter instruction, and a second yes/no self-check call. None made the 0.5B abstain without
raising false abstention (its self-check says "no" to most answers, right or wrong; the 1.5B's
says "yes" to all), and none raised F1 beyond noise, so the prompt stays as it is. Neither model
abstains reliably on SQuAD 2.0's adversarial unanswerable questions.

Confidence-based abstention on the 0.5B (llama.cpp) was measured and rejected too (tuning seed 101,
100 questions, 50 answerable, CI seed-13 sample excluded, 2 retrieved passages as the pipeline gives;
``scripts/abstain_tuning.py``). Scores read from the logits of this very prompt separate answerable from
unanswerable questions barely better than chance (AUC): min token logprob of the answer 0.58, their sum
0.57, mean 0.45, P(first token "I") 0.51 (it is ~0.00 on both kinds), answer words found in the passages
0.53, P(yes) - P(no) for a follow-up "Does passage [n] state the answer to the question?" 0.54, and the
same yes/no margin asked BEFORE answering ("Do the passages above state the answer to this exact
question?") 0.63, the best: at its best point with false abstention <= 0.15 (margin < -1.4) it abstains on
0.26 of unanswerable questions with false 0.12 (0.06 / 0.04 without a threshold) and lowers F1 0.370 ->
0.350; F1 is scored on answerable questions, so no abstention rule can raise it. Targets were abstention
>= 0.5 at false <= 0.15, so it is not adopted (it was implemented and measured, then left out: a second
model call on every local answer). CI seed-13 sample with it, once:
abstention 0.40, false abstention 0.20, F1 0.479 and EM 0.40 unchanged, citation 0.90 (without it:
0.00 / 0.10 / 0.479 / 0.40 / 0.90).

The server model (1.5B, its source GGUF on llama.cpp, same 100 questions; ``scripts/abstain_server_model.py``):
writes "I don't know." on none of the unanswerable questions (0.04 of answerable ones; F1 0.676 with 5
passages); the same pre-answer check separates better (AUC 0.74 with the 2 best passages, 0.66 with 5) and
touches the target only in-sample (abstention 0.50, false 0.14 at margin < 0.815); cross-validated, false
abstention is 0.16-0.17 at abstention ~0.5. Quoting the answering sentence and checking that it covers the
question's content words does not separate the kinds (AUC 0.54), nor does a logistic regression over all
scores (cross-validated AUC 0.66-0.74). Not adopted.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from indexing.types import SearchHit, passage_text

SYSTEM_PROMPT = (
    "You are the company knowledge assistant. Answer questions from the numbered context passages only. "
    "Reply with the answer alone: the few words from a passage that answer the question (no full "
    "sentence, no explanation), then the passage number in brackets, e.g. \"Paris [2]\". If no passage "
    "states the answer to this exact question, reply exactly: I don't know."
)
ABSTAIN_TEXT = "I don't know."
# A blank line ends the answer: small models otherwise tend to repeat themselves or add notes.
STOP = ("\n\n",)


# The system message's text before its passages, exactly as `build_messages` writes it: the assistant's own
# words, which the egress scan takes as known (`EgressGuard(trusted=...)`) rather than as a user's text
CONTEXT_HEAD = f"{SYSTEM_PROMPT}\n\nContext:"
NO_CONTEXT = f"{SYSTEM_PROMPT}\n\nContext: (none)"
INSTRUCTION_TEXTS = (CONTEXT_HEAD, NO_CONTEXT)


def build_messages(question: str, history: Sequence[Mapping[str, str]], hits: Sequence[SearchHit]) -> list[dict[str, str]]:
    """The chat prompt: system instructions with numbered context passages, the history, the question."""
    # "[n] " + passage_text(...) on its own line: ingest labels and the egress scan read passages this way
    context = "\n\n".join(f"[{i}] {passage_text(hit.title, hit.text)}" for i, hit in enumerate(hits, start=1))
    system = f"{CONTEXT_HEAD}\n{context}" if hits else NO_CONTEXT
    return [{"role": "system", "content": system}, *({"role": m["role"], "content": m["content"]} for m in history),
            {"role": "user", "content": question}]


__all__ = ["ABSTAIN_TEXT", "INSTRUCTION_TEXTS", "SYSTEM_PROMPT", "STOP", "build_messages"]

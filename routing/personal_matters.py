"""Personal matters: logistic regressions over two views of a sentence (no keyword list).

The model tells a sentence about a person's or a group's private matter ("has Oskar been signed off
with burnout?", "which managers are under investigation?") from a general question on the same
topic ("how many sick days do we get?"). Topics: `TOPICS`; class ``none`` is everything else. The topic
``home`` is where a private person lives, precisely enough to find it, in any form a street pattern
misses ("my house is the third one after the church, cream walls", a farm past a km marker, another
script); an office, venue or landmark address is ``none``.

Its score is the mean of two probabilities: one regression over the sentence embedding (meaning,
paraphrase, other languages) and one over TF-IDF word unigrams and bigrams (the words that carry the
matter: "owe", "take home", "undocumented"). On the tuning sets the pair halves the benign questions
scored above the weak threshold at the same recall as the embedding alone.

The model is data (routing/personal_matter_model.json): coefficients, intercepts, the n-gram
vocabulary with its idf weights, both decision thresholds chosen on a validation split, the
embedder name, the sha256 of the training file and the validation precision/recall. `train`
rebuilds it from a labelled JSONL file (``{"id", "text", "label"}``, label a topic or ``none``);
`rag detect train-personal-matters` runs it.

The embedding function is injected (this package never imports `indexing`): any
``texts -> (n, dim) float array`` of L2-normalised rows, the same model as at training time (the
project uses multilingual-e5-small, `indexing.e5_embedder`, so prompts in other languages are read too;
the detector refuses a model file trained on another embedder).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

TOPICS = ("health", "pay_debt", "performance", "legal", "family", "immigration", "investigation", "home")
NONE = "none"
Embed = Callable[[Sequence[str]], np.ndarray]

VALIDATION_SHARE = 5          # every 5th bucket of sha256(id) goes to validation (20 %)
TARGET_RECALL = 0.97          # weak threshold: the highest one that keeps this validation recall
TARGET_PRECISION = 0.95       # threshold: the lowest one (>= 0.5) with this validation precision
C = 4.0                       # inverse regularisation strength of both regressions
MAX_SENTENCES = 40            # long texts: at most this many sentences are scored (plus the whole text)
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")  # sentence end followed by space, or a line break ("$0.30" stays whole)
_WORD = re.compile(r"(?u)\b\w\w+\b")          # scikit-learn's default token pattern


@dataclass(frozen=True)
class MatterScore:
    """The strongest personal-matter evidence in one text: its span, score and topic."""

    start: int
    end: int
    score: float
    topic: str


@dataclass(frozen=True)
class PersonalMatterModel:
    """Personal matter or not (two binary regressions, over the embedding and over TF-IDF n-grams;
    the score is the mean of their probabilities), and which topic (multinomial over the embedding,
    fitted on the positives only).

    Attributes:
        coef, intercept: the embedding's binary model (shape (dim,) and a float).
        vocabulary, idf, ngram_coef, ngram_intercept: the n-gram view's terms, their idf weights and
            its binary model.
        topics, topic_coef, topic_intercept: the topic model.
        threshold: score at which a finding stands alone (chosen for validation precision).
        weak_threshold: score at which a finding counts next to a person or group (chosen for
            validation recall).
    """

    coef: np.ndarray
    intercept: float
    vocabulary: tuple[str, ...]
    idf: np.ndarray
    ngram_coef: np.ndarray
    ngram_intercept: float
    topics: tuple[str, ...]
    topic_coef: np.ndarray
    topic_intercept: np.ndarray
    threshold: float
    weak_threshold: float
    embedder: str
    training_sha256: str
    validation: dict[str, Any] = field(default_factory=dict)

    # --- persistence ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, command: str = "rag detect train-personal-matters") -> "PersonalMatterModel":
        """Read a model file written by `save`.

        Raises:
            FileNotFoundError: naming `command`, the training command that writes it.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"classifier model {path} not found; run `{command}`")
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(np.asarray(d["coef"], dtype=np.float32), float(d["intercept"]), tuple(d["vocabulary"]),
                   np.asarray(d["idf"], dtype=np.float32), np.asarray(d["ngram_coef"], dtype=np.float32),
                   float(d["ngram_intercept"]), tuple(d["topics"]),
                   np.asarray(d["topic_coef"], dtype=np.float32), np.asarray(d["topic_intercept"], dtype=np.float32),
                   float(d["threshold"]), float(d["weak_threshold"]), str(d["embedder"]), str(d["training_sha256"]),
                   dict(d.get("validation", {})))

    def save(self, path: str | Path) -> None:
        def rounded(a: np.ndarray) -> Any:
            return np.round(np.asarray(a, dtype=np.float64), 6).tolist()

        data = {
            "embedder": self.embedder, "training_sha256": self.training_sha256,
            "threshold": round(self.threshold, 6), "weak_threshold": round(self.weak_threshold, 6),
            "validation": self.validation, "intercept": round(self.intercept, 6), "topics": list(self.topics),
            "topic_intercept": rounded(self.topic_intercept), "coef": rounded(self.coef),
            "topic_coef": rounded(self.topic_coef), "ngram_intercept": round(self.ngram_intercept, 6),
            "vocabulary": list(self.vocabulary), "idf": rounded(self.idf), "ngram_coef": rounded(self.ngram_coef),
        }
        Path(path).write_text(json.dumps(data) + "\n", encoding="utf-8")

    # --- scoring ---------------------------------------------------------------------------------
    def matter_scores(self, texts: Sequence[str], vectors: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Per text (with its embedding): the personal-matter score and the most likely topic."""
        vectors = np.asarray(vectors, dtype=np.float32)
        by_meaning = _sigmoid(vectors @ self.coef + self.intercept)
        by_words = _sigmoid(np.asarray([self._ngram_logit(t) for t in texts], dtype=np.float32))
        topic_logits = vectors @ self.topic_coef.T + self.topic_intercept
        return (by_meaning + by_words) / 2, [self.topics[int(i)] for i in np.argmax(topic_logits, axis=1)]

    @cached_property
    def _term_index(self) -> dict[str, int]:
        return {term: i for i, term in enumerate(self.vocabulary)}

    def _ngram_logit(self, text: str) -> float:
        """The n-gram regression's logit over the text's sublinear, L2-normalised TF-IDF row (computed
        sparsely, as scikit-learn's `TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)` builds it)."""
        counts = Counter(self._term_index[t] for t in ngrams(text) if t in self._term_index)
        if not counts:
            return self.ngram_intercept
        cols = np.fromiter(counts, dtype=np.int64)
        weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32))) * self.idf[cols]
        return float(weights @ self.ngram_coef[cols] / np.linalg.norm(weights) + self.ngram_intercept)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # clipped: exp overflows float32 (a RuntimeWarning) past |x| ~ 88, where the result is 0 or 1 anyway
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def ngrams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams, tokenised as scikit-learn's `TfidfVectorizer` does."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence-like spans (split on . ! ? and line breaks), stripped, at most `MAX_SENTENCES`."""
    spans = []
    cuts = [0, *(x for m in _BOUNDARY.finditer(text) for x in (m.start(), m.end())), len(text)]
    for start, end in zip(cuts[::2], cuts[1::2]):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start >= 3:
            spans.append((start, end))
    return spans[:MAX_SENTENCES]


def score_texts(model: PersonalMatterModel, embed: Embed, texts: Sequence[str],
                windows: Sequence[Sequence[tuple[int, int]] | None] | None = None) -> list[MatterScore | None]:
    """The best-scoring unit (a sentence, or the whole text when it has several) of each text.

    `windows[i]`, when given and not None, limits text i to the units that overlap one of its spans
    (the rest are not embedded). One `embed` call for the whole batch. Texts with no unit get None.
    """
    units: list[tuple[int, int, int]] = []
    for i, text in enumerate(texts):
        spans = sentence_spans(text)
        if len(spans) > 1:
            spans.append((spans[0][0], spans[-1][1]))
        near = None if windows is None else windows[i]
        units += [(i, s, e) for s, e in spans if near is None or any(s <= we and ws <= e for ws, we in near)]
    if not units:
        return [None] * len(texts)
    unit_texts = [texts[i][s:e] for i, s, e in units]
    scores, topics = model.matter_scores(unit_texts, np.asarray(embed(unit_texts)))
    best: list[MatterScore | None] = [None] * len(texts)
    for (i, s, e), score, topic in zip(units, scores, topics, strict=True):
        current = best[i]
        if current is None or score > current.score:
            best[i] = MatterScore(s, e, float(score), topic)
    return best


# --- training ------------------------------------------------------------------------------------
def load_rows(path: str | Path) -> list[dict[str, str]]:
    """Labelled rows of a JSONL training file; labels must be a topic or ``none``."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in (*TOPICS, NONE):
            raise ValueError(f"{path}:{n}: label {row.get('label')!r} is not one of {(*TOPICS, NONE)}")
        rows.append({"id": str(row["id"]), "text": str(row["text"]), "label": row["label"]})
    return rows


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_validation(row_id: str) -> bool:
    """Deterministic split: a row is in validation when sha256(id) falls in one of five buckets."""
    return int(hashlib.sha256(row_id.encode("utf-8")).hexdigest(), 16) % VALIDATION_SHARE == 0


def _fit(vectors: np.ndarray, labels: Sequence[Any], balanced: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=4000, class_weight="balanced" if balanced else None, random_state=0)
    return clf.fit(vectors, list(labels))


def _figures(scores: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = scores >= threshold
    tp = int((predicted & positive).sum())
    return {"threshold": round(float(threshold), 4), "precision": round(tp / max(int(predicted.sum()), 1), 4),
            "recall": round(tp / max(int(positive.sum()), 1), 4)}


def choose_thresholds(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(threshold, weak_threshold) on validation scores: the lowest threshold whose precision is
    >= TARGET_PRECISION (at least 0.5), and the highest whose recall is >= TARGET_RECALL."""
    pos_scores = np.sort(scores[positive])
    weak = float(pos_scores[int(np.floor((1 - TARGET_RECALL) * len(pos_scores)))]) if len(pos_scores) else 0.5
    strong = 0.5
    for candidate in sorted(set(np.round(scores, 4).tolist()) | {0.5}):
        if candidate >= 0.5 and _figures(scores, positive, candidate)["precision"] >= TARGET_PRECISION:
            strong = candidate
            break
    return strong, min(weak, strong)


def train(path: str | Path, embed: Embed, embedder_name: str) -> PersonalMatterModel:
    """Fit on the training split, choose both thresholds on the validation split, refit on all rows.

    The stored validation figures are those of the training-split model at the chosen thresholds.
    """
    return train_rows(load_rows(path), file_sha256(path), embed, embedder_name)


def train_rows(rows: Sequence[dict[str, str]], sha256: str, embed: Embed, embedder_name: str) -> PersonalMatterModel:
    """`train` over rows already read (``{"id", "text", "label"}``; any label other than ``none`` is a
    positive); `sha256` identifies where they came from."""
    texts = [r["text"] for r in rows]
    vectors = np.asarray(embed(texts), dtype=np.float32)
    labels = np.asarray([r["label"] for r in rows])
    positive = labels != NONE
    val = np.asarray([is_validation(r["id"]) for r in rows])
    first = _fitted([t for t, v in zip(texts, val) if not v], vectors[~val], labels[~val], embedder_name, sha256)
    scores, _ = first.matter_scores([t for t, v in zip(texts, val) if v], vectors[val])
    threshold, weak = choose_thresholds(scores, positive[val])
    validation = {"rows": int(val.sum()), "positives": int(positive[val].sum()),
                  "strong": _figures(scores, positive[val], threshold), "weak": _figures(scores, positive[val], weak)}
    final = _fitted(texts, vectors, labels, embedder_name, sha256)
    return replace(final, threshold=threshold, weak_threshold=weak, validation=validation)


def _fitted(texts: Sequence[str], vectors: np.ndarray, labels: np.ndarray, embedder_name: str,
            sha256: str) -> PersonalMatterModel:
    """Both binary regressions and the topic regression fitted on these rows (thresholds not yet chosen)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    positive = labels != NONE
    meaning = _fit(vectors, positive, balanced=True)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    words = _fit(vectorizer.fit_transform(texts), positive, balanced=True)
    classes = sorted(set(labels[positive].tolist()))
    if len(classes) > 1:
        topic = _fit(vectors[positive], labels[positive], balanced=False)
        topic_coef, topic_intercept = topic.coef_.astype(np.float32), topic.intercept_.astype(np.float32)
    else:  # one positive label (a yes/no model): every positive is of that topic
        topic_coef, topic_intercept = np.zeros((1, vectors.shape[1]), np.float32), np.zeros(1, np.float32)
    return PersonalMatterModel(
        meaning.coef_[0].astype(np.float32), float(meaning.intercept_[0]),
        tuple(str(t) for t in vectorizer.get_feature_names_out()), vectorizer.idf_.astype(np.float32),
        words.coef_[0].astype(np.float32), float(words.intercept_[0]),
        tuple(str(c) for c in classes), topic_coef, topic_intercept,
        threshold=0.5, weak_threshold=0.5, embedder=embedder_name, training_sha256=sha256)


__all__ = ["TOPICS", "NONE", "Embed", "MatterScore", "PersonalMatterModel", "score_texts", "sentence_spans",
           "train", "train_rows", "ngrams", "load_rows", "file_sha256", "is_validation"]

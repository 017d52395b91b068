"""Text normalisation before matching, with a map from the normalised text back to the original.

Numbers typed to dodge pattern matching are rewritten as plain digit runs:

* digits separated by single spaces or dashes, one at a time ("4 5 3 9 1 4 8 8 ..."), with up to four
  capital letters typed the same way before them ("G B 8 2 ...");
* digits spelled as words ("five three six nine zero one ...", "null acht eins fünf ..."), with or without
  separators, also in spoken pairs and repeats ("oh four double seven", "twenty forty sixty",
  "trente et un, quatre-vingt-dix-huit": the numbers 10-99 in each language come from num2words);
* digits read one by one in Chinese or Japanese characters ("七三二八", "〇九〇 一二三四") or in Korean
  syllables ("칠 삼 이 팔이에요": Sino-Korean digits, the last one may carry its particle);
* in a message that reads out such a number, also the shorter runs of number words and the symbols said
  between them ("block two three eight ... hash one two dash four five six" -> "block 238 ... #12-456");
* a number a phone or a scanner split over lines at its dashes ("512-\\n47-\\n3190") is joined again;
* an IBAN's country code and check digits written apart ("DE 44 3702 ...") are joined ("DE44 3702 ...");
* digits of other scripts (Devanagari "४५६७", Arabic-Indic "١٠٢٣", Persian "۰۰۱۲", full width "４５３９") read as
  ASCII digits, and a long number written against Chinese, Japanese, Korean or Thai characters
  ("番号は4539 1488 0343 6467です") is set apart from them by a space, as the recognizers need a word boundary;
* full-width colons and equals signs (``：``, ``＝``, typed with CJK input methods) read as ``:`` and ``=``;
* escaped line breaks and tabs pasted from JSON or logs (a backslash then n, r or t) become a line break,
  so that an address or a form pasted as one escaped line reads as its lines;
* a misspelt key word, one edit (a letter missing, extra, wrong or two letters swapped) away from a word
  the patterns look for ("pasword", "pasport", "adress"), is spelt right (`KEY_WORDS`).

`Normalized.digit_runs` are the spans (in the normalised text) of the digit runs rewritten from spaced or
spelled-out digits: writing a number digit by digit is itself a sign that it identifies something.

Everything else is kept as is, so names, words and formatted numbers ("+44 20 7946 0812") reach the
recognizers unchanged. `Normalized.span` maps a finding's span on the normalised text back to the
original text.

Example:
    norm = normalize("ssn five three six nine zero four three nine nine")
    norm.text                     # "ssn 536904399"
    norm.span(4, 13)              # (4, 50): the spelled-out words in the original
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from routing.word_runs import vocabulary_runs

# The digits as words in English, German, Dutch, French, Spanish, Italian and Portuguese (a run needs
# MIN_DIGIT_WORDS of them in a row, so "un", "dos" or "acht" in a sentence are left alone).
DIGIT_WORDS = {"zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
               "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
               "null": "0", "eins": "1", "ein": "1", "zwei": "2", "zwo": "2", "drei": "3", "vier": "4",
               "fünf": "5", "fuenf": "5", "sechs": "6", "sieben": "7", "acht": "8", "neun": "9",
               "nul": "0", "een": "1", "één": "1", "twee": "2", "drie": "3", "vijf": "5", "zes": "6", "zeven": "7",
               "negen": "9",
               "zéro": "0", "un": "1", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "sept": "7",
               "huit": "8", "neuf": "9",
               "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6",
               "siete": "7", "ocho": "8", "nueve": "9",
               "due": "2", "tre": "3", "quattro": "4", "cinque": "5", "sei": "6", "sette": "7", "otto": "8",
               "nove": "9",
               "um": "1", "dois": "2", "três": "3", "sete": "7", "oito": "8"}
# Digits as characters: Chinese and Japanese (kanji, with the formal 零/〇 and 两/兩 for two) and Sino-Korean
# syllables, the way a number is read out one digit at a time; a run needs MIN_DIGIT_WORDS of them.
_KANJI_DIGITS = {"〇": "0", "零": "0", "一": "1", "二": "2", "两": "2", "兩": "2", "三": "3", "四": "4", "五": "5",
                 "六": "6", "七": "7", "八": "8", "九": "9"}
_HANGUL_DIGITS = {"공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6",
                  "칠": "7", "팔": "8", "구": "9"}
CJK_DIGITS = {**_KANJI_DIGITS, **_HANGUL_DIGITS}
MIN_SPACED_DIGITS = 6
MIN_DIGIT_WORDS = 4
# numbers read out in pairs ("twenty forty sixty", "zweiundvierzig"), one word per number
NUMBER_LANGUAGES = ("en", "de", "nl", "fr", "es", "it", "pt")
REPEATS = {"double": 2, "triple": 3}


def _number_words() -> dict[str, str]:
    """Every spelling of 0-99 in `NUMBER_LANGUAGES` (lower case, words joined by one space) -> its digits."""
    from num2words import num2words

    words = dict(DIGIT_WORDS)
    for lang in NUMBER_LANGUAGES:
        for n in range(10, 100):
            words.setdefault(" ".join(re.split(r"[\s\-]+", num2words(n, lang=lang))), str(n))
    words.setdefault("quatre vingt", "80")  # num2words writes "quatre-vingts"; both are said
    return words


NUMBER_WORDS = _number_words()

# A number written against characters of a script without spaces between words (Chinese, Japanese, Korean's
# particles, Thai): the recognizers look for a word boundary there, so the two are set apart.
_HANGUL = "\uac00-\ud7a3"  # the Hangul syllables, 가 to 힣
_CLOSE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff%s\u0e00-\u0e4f\u0e5a-\u0e7f]" % _HANGUL)
_ATTACHED_NUMBER = re.compile(r"[A-Za-z\d]+(?:[ ./-][A-Za-z\d]+)*")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of another script: Devanagari, Arabic-Indic, full width
# a run of single digits, after at most four single capital letters typed the same way ("G B 8 2 ...":
# an IBAN's or a passport's country letters)
_SPACED_DIGITS = re.compile(r"(?<!(?!{c})[\w.,-])(?:[A-Z][ \-]){{0,4}}\d(?:[ \-]\d){{{n},}}(?!(?!{c})[\w-]|[.,]\d)".format(
    c=_CLOSE_SCRIPT.pattern, n=MIN_SPACED_DIGITS - 1))
_NUMBER = "|".join(r"[\s\-]+".join(map(re.escape, w.split())) for w in sorted(NUMBER_WORDS, key=len, reverse=True))
_UNIT = "|".join(sorted(DIGIT_WORDS, key=len, reverse=True))
_WORD = r"(?:(?:%s)[\s\-]+(?:%s)|%s)" % ("|".join(REPEATS), _UNIT, _NUMBER)
_DIGIT_WORD_RUN = re.compile(r"\b%s(?:[\s,\-]+%s){%d,}\b" % (_WORD, _WORD, MIN_DIGIT_WORDS - 1), re.IGNORECASE)
_ONE_WORD = re.compile(r"\b%s\b" % _WORD, re.IGNORECASE)
# Once a message reads out a number in words (a `_DIGIT_WORD_RUN`), it is dictated: its shorter runs of number
# words are numbers too, with the symbols said between them ("block two three eight", "hash one two dash four
# five six" -> "238", "#12-456").
SAID_SYMBOLS = {"hash": "#", "dash": "-", "hyphen": "-", "slash": "/"}
_SAID_SYMBOL = r"(?:%s)" % "|".join(SAID_SYMBOLS)
_DICTATED_RUN = re.compile(r"\b(?:hash\s+)?%s(?:(?:\s+%s\s+|[\s,\-]+)%s)+\b" % (_WORD, _SAID_SYMBOL, _WORD), re.IGNORECASE)
_DICTATED_TOKEN = re.compile(r"\b(?:(?P<sym>%s)|%s)\b" % (_SAID_SYMBOL, _WORD), re.IGNORECASE)
_NUMBER_PARTS = frozenset(part for w in (*NUMBER_WORDS, *REPEATS) for part in w.split())
_DICTATED_PARTS = _NUMBER_PARTS | frozenset(SAID_SYMBOLS)
_LETTERS = re.compile(r"[^\W\d_]+")
_SEPARATORS = re.compile(r"[\s,\-]+")
_ESCAPED_BREAK = re.compile(r"(?:\\[rnt])+")
# a compact JSON separator ('"passport":"K39..."', '"a":1,"b"'): a space is added after it so that the key is
# a word of its own for the context words of the recognizers
_COMPACT_JSON = re.compile(r'(?<=\w")[:,](?=["{\[\d-])')
# digit groups with a line break next to a dash between them (never bare lines of numbers: a list or a log)
_SPLIT_DIGITS = re.compile(r"(?<![\w-])\d{2,5}(?:[ \t]*(?:-[ \t]*\r?\n[ \t]*-?|\r?\n[ \t]*-)[ \t]*\d{1,5}){1,4}(?![\w-])")
_FULL_WIDTH = {"：": ":", "＝": "="}
# CJK digits in a row: kanji with or without a space or 、 between them; Korean syllables each a word of its own
# (Korean writes words apart, so "이사" or "구사일생" are words, not digits), the last one allowed a particle
# ("팔이에요", "칠입니다")
_KOREAN_PARTICLE = "이에요|예요|입니다|이고|이야|이다|이요|이랑|인데|번|은|는|을|를|으로|로"
_CJK_DIGIT_RUN = re.compile(
    r"{k}(?:[ ,、，・-]?{k}){{{n}}}|(?<![{hangul}]){h}(?:[ ,-]+{h}){{{n}}}(?=(?:{p})?(?![{hangul}]))".format(
        k="[%s]" % "".join(_KANJI_DIGITS), h="[%s]" % "".join(_HANGUL_DIGITS), n="%d," % (MIN_DIGIT_WORDS - 1),
        p=_KOREAN_PARTICLE, hangul=_HANGUL))
# an IBAN written with a space between its country code and check digits ("DE 44 3702 9981 ..."): the two are
# joined ("DE44 3702 ...") so the IBAN recognizers, which validate it, read the usual grouped form
_SPACED_IBAN_HEAD = re.compile(r"\b[A-Z]{2} \d{2}(?= [A-Z0-9]{4}(?: [A-Z0-9]{1,4}){2,7}(?![\w-]))")

# An e-mail address said aloud or written to dodge scrapers ("priya dot raman at mail dot example",
# "k underscore osei arroba correo punto example", "jo [at] firm [dot] example"): the spoken words for the
# symbols in several languages, and a last label that is a top-level domain.
_SAID_AT = r"(?:at|at sign|arroba|arobase|chiocciola|klammeraffe|at-zeichen|małpa|malpa|apenstaartje|snabel-a)"
_SAID_DOT = r"(?:dot|punto|point|punkt|ponto|punt|kropka|nokta|pisteen|piste)"
_SAID_JOIN = {"dot": ".", "punto": ".", "point": ".", "punkt": ".", "ponto": ".", "punt": ".", "kropka": ".",
              "nokta": ".", "piste": ".", "pisteen": ".", "underscore": "_", "dash": "-", "hyphen": "-",
              "guion bajo": "_", "guión bajo": "_", "tiret bas": "_", "unterstrich": "_", "trattino basso": "_",
              "sublinhado": "_", "underline": "_"}
_SAID_SEP = "|".join(sorted(map(re.escape, _SAID_JOIN), key=len, reverse=True))
TOP_LEVEL_DOMAINS = ("com", "org", "net", "edu", "gov", "mil", "int", "io", "ai", "app", "dev", "info", "biz", "me",
                     "example", "test", "email", "mail", "online", "co", "uk", "de", "fr", "es", "it", "nl", "be",
                     "ch", "at", "se", "no", "dk", "fi", "pl", "pt", "ie", "cz", "ro", "hu", "gr", "tr", "ru", "ua",
                     "in", "jp", "cn", "kr", "tw", "hk", "sg", "my", "id", "ph", "vn", "th", "au", "nz", "za",
                     "ng", "ke", "eg", "ae", "sa", "il", "br", "mx", "ar", "cl", "pe", "us", "ca", "eu")


def _said(words: str) -> str:
    """A spoken symbol between two parts: the word with spaces around it, or in brackets ("[at]", "(dot)")."""
    return r"(?:\s+(?:%s)\s+|\s*[\[(<{]\s*(?:%s)\s*[\])>}]\s*)" % (words, words)


_LABEL = r"[A-Za-z0-9]+(?:\s+(?:%s)){0,6}" % "|".join(sorted(DIGIT_WORDS, key=len, reverse=True))
_SAID_EMAIL = re.compile(
    r"(?<![\w@.])(?P<local>{label}(?:{sep}{label}){{0,4}}){at}(?P<domain>(?:{label}{dot}){{1,4}}(?:{tld}))\b(?![@.]\w)".format(
        label=_LABEL, sep=_said(_SAID_SEP), at=_said(_SAID_AT), dot=_said(_SAID_DOT),
        tld="|".join(TOP_LEVEL_DOMAINS)),
    re.IGNORECASE)
_SAID_PART = re.compile(r"(?P<sym>\b(?:%s|%s|%s)\b)|(?P<word>[A-Za-z0-9]+)" % (_SAID_SEP, _SAID_AT, _SAID_DOT),
                        re.IGNORECASE)

# Words the secret and identifier patterns and context lists key on, long enough that one edit away is
# a typo, not another word (no "routing"/"routine", "national"/"rational"). Inflections ("passwords",
# "accounts") start with the word and are left alone.
KEY_WORDS = ("password", "passport", "passcode", "passphrase", "account", "address", "licence", "license",
             "insurance", "security")
_LONG_WORD = re.compile(r"[^\W\d_]{6,}")


@dataclass(frozen=True)
class Normalized:
    """A normalised text and, for each of its characters, the offset of its source character.

    Attributes:
        text: the normalised text.
        origin: ``origin[i]`` is the offset in the original text of ``text[i]``; one extra entry,
            the original length, closes the last span.
        changed: True when some run was rewritten.
        source_ends: ``source_ends[i]`` is the end offset (exclusive) in the original of ``text[i]``.
        digit_runs: spans in `text` of the digit runs rewritten from spaced or spelled-out digits.
    """

    text: str
    origin: tuple[int, ...]
    source_ends: tuple[int, ...]
    changed: bool = False
    digit_runs: tuple[tuple[int, int], ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (an empty or out-of-range span is clamped)."""
        if not self.text:
            return 0, 0
        start = min(max(start, 0), len(self.text) - 1)
        end = min(max(end, start + 1), len(self.text))
        return self.origin[start], self.source_ends[end - 1]


def _identity(text: str) -> Normalized:
    return Normalized(text, tuple(range(len(text) + 1)), tuple(range(1, len(text) + 1)))


def _replacements(text: str) -> tuple[list[tuple[int, int, list[tuple[str, int, int]]]], set[int]]:
    """(start, end, [(char, source start, source end)]) for every run to rewrite, in order, no overlaps; and
    the starts of the runs that are said e-mail addresses (not digit runs, though they may hold digits)."""
    runs: list[tuple[int, int, list[tuple[str, int, int]]]] = []
    said: set[int] = set()
    for m in _SAID_EMAIL.finditer(text):
        chars = _said_email(m)
        if chars and not _overlaps(runs, m.start(), m.end()):
            runs.append((m.start(), m.end(), chars))
            said.add(m.start())
    for m in (m for pattern in (_SPACED_IBAN_HEAD, _SPACED_DIGITS) for m in pattern.finditer(text)
              if not _overlaps(runs, m.start(), m.end())):
        runs.append((m.start(), m.end(), [(text[i], i, i + 1) for i in range(m.start(), m.end()) if text[i].isalnum()]))
    for m in _SPLIT_DIGITS.finditer(text):
        if not _overlaps(runs, m.start(), m.end()):
            kept = [(ch, i, i + 1) for i, ch in enumerate(m.group(0), m.start()) if ch.isdigit() or ch == "-"]
            runs.append((m.start(), m.end(), [c for k, c in enumerate(kept) if c[0] != "-" or kept[k - 1][0] != "-"]))
    dictated = False
    for m in (m for start, end in _number_word_spans(text) for m in _DIGIT_WORD_RUN.finditer(text, start, end)):
        if _overlaps(runs, m.start(), m.end()):
            continue
        chars = [(digit, w.start() + m.start(), w.end() + m.start())
                 for w in _ONE_WORD.finditer(m.group(0)) for digit in _digits(w.group(0))]
        runs.append((m.start(), m.end(), chars))
        dictated = True
    if dictated:
        for m in (m for start, end in _number_word_spans(text, _DICTATED_PARTS, 2)
                  for m in _DICTATED_RUN.finditer(text, start, end)):
            if not _overlaps(runs, m.start(), m.end()):
                runs.append((m.start(), m.end(), _dictated(m)))
    for m in _CJK_DIGIT_RUN.finditer(text):
        if not _overlaps(runs, m.start(), m.end()):
            runs.append((m.start(), m.end(), [(CJK_DIGITS[ch], i, i + 1) for i, ch in enumerate(m.group(0), m.start())
                                              if ch in CJK_DIGITS]))
    for i, ch in ((i, ch) for i, ch in enumerate(text) if ch in _FULL_WIDTH):
        if not _overlaps(runs, i, i + 1):
            runs.append((i, i + 1, [(_FULL_WIDTH[ch], i, i + 1)]))
    for m in _ESCAPED_BREAK.finditer(text):
        if not _overlaps(runs, m.start(), m.end()):
            runs.append((m.start(), m.end(), [("\n", m.start(), m.end())]))
    for m in _COMPACT_JSON.finditer(text):
        if not _overlaps(runs, m.start(), m.end()):
            runs.append((m.start(), m.end(), [(m.group(0), m.start(), m.end()), (" ", m.start(), m.end())]))
    for m in _LONG_WORD.finditer(text):
        word = _key_word(m.group(0))
        if word and not _overlaps(runs, m.start(), m.end()):
            runs.append((m.start(), m.end(), [(ch, m.start(), m.end()) for ch in word]))
    return sorted(runs), said


def _dictated(m: re.Match[str]) -> list[tuple[str, int, int]]:
    """The digits and said symbols of a short dictated run with their source spans ("hash one two" -> "#12")."""
    return [(char, w.start() + m.start(), w.end() + m.start())
            for w in _DICTATED_TOKEN.finditer(m.group(0))
            for char in (SAID_SYMBOLS[w.group("sym").lower()] if w.group("sym") else _digits(w.group(0)))]


def _said_email(m: re.Match[str]) -> list[tuple[str, int, int]]:
    """The characters of a said e-mail address with their source spans; none when the local part is one
    common English word ("write to us at acme dot example" names a site, not a mailbox)."""
    local = m.group("local")
    if re.fullmatch(r"[A-Za-z]+", local) and local.lower() in _common_english():
        return []
    chars: list[tuple[str, int, int]] = []
    parts = list(_SAID_PART.finditer(m.group(0)))
    for k, part in enumerate(parts):
        start, end = part.start() + m.start(), part.end() + m.start()
        word = (part.group("word") or "").lower()
        if part.group("sym"):
            chars.append((_SAID_JOIN.get(" ".join(part.group("sym").lower().split()), "@"), start, end))
        elif word in DIGIT_WORDS and any(0 <= j < len(parts) and parts[j].group("word") for j in (k - 1, k + 1)):
            chars.append((DIGIT_WORDS[word], start, end))  # a digit said in a label: "lee four two"
        else:
            chars.extend((ch, i, i + 1) for i, ch in enumerate(part.group("word"), start))
    return chars


@lru_cache(maxsize=1)
def _common_english() -> frozenset[str]:
    from wordfreq import top_n_list

    return frozenset(top_n_list("en", 200, wordlist="small"))


def _overlaps(runs: list[tuple[int, int, list[tuple[str, int, int]]]], start: int, end: int) -> bool:
    """True when ``text[start:end]`` overlaps a run already chosen (the first rule to claim text wins)."""
    return any(s < end and start < e for s, e, _ in runs)


def _number_word_spans(text: str, vocabulary: frozenset[str] = _NUMBER_PARTS,
                       min_words: int = MIN_DIGIT_WORDS) -> list[tuple[int, int]]:
    """Spans of `min_words` or more words in a row that may all belong to number words: the only places
    where the (slow, many-branched) `_DIGIT_WORD_RUN` can match, found by set lookups."""
    words = [(m.start(), m.end(), m.group(0).lower()) for m in _LETTERS.finditer(text)]
    # every number word holds at least one part, so a run of `min_words` number words has as many parts
    return [(start, end) for start, end, _ in vocabulary_runs(text, words, vocabulary, _SEPARATORS, min_words)]


def _digits(word: str) -> str:
    """The digits one number word stands for ("seven" 7, "double seven" 77, "quatre-vingt-dix-huit" 98)."""
    parts = re.split(r"[\s\-]+", word.lower())
    if parts[0] in REPEATS and len(parts) == 2:
        return DIGIT_WORDS[parts[1]] * REPEATS[parts[0]]
    return NUMBER_WORDS[" ".join(parts)]


def _key_word(word: str) -> str | None:
    """The key word `word` is a misspelling of, in `word`'s case; None when it is none."""
    low = word.lower()
    for key in KEY_WORDS:
        if low.startswith(key) or key.startswith(low):  # the word itself, or an inflection
            continue
        if _one_edit(low, key):
            return key.upper() if word.isupper() else key.capitalize() if word[0].isupper() else key
    return None


def _one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(a) - len(b)) > 1:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    if len(a) == len(b):
        swapped = a[i + 1:i + 2] == b[i:i + 1] and a[i:i + 1] == b[i + 1:i + 2] and a[i + 2:] == b[i + 2:]
        return a[i + 1:] == b[i + 1:] or swapped
    return a[i + 1:] == b[i:] if len(a) > len(b) else a[i:] == b[i + 1:]


def _ascii_digit(ch: str) -> str:
    """A decimal digit of another script ("४", "٣", "３") as its ASCII digit; any other character as is."""
    return ch if ch.isascii() or not ch.isdecimal() else str(unicodedata.decimal(ch))


def _number_edges(text: str) -> set[int]:
    """Offsets of `text` before which a space is read: the two edges of a number of MIN_SPACED_DIGITS or more
    digits written against a Chinese, Japanese, Korean or Thai character ("番号は4539 1488 0343 6467です")."""
    edges: set[int] = set()
    if not _CLOSE_SCRIPT.search(text):
        return edges
    for m in _ATTACHED_NUMBER.finditer(text):
        if sum(ch.isdecimal() for ch in m.group(0)) < MIN_SPACED_DIGITS:
            continue
        if m.start() > 0 and _CLOSE_SCRIPT.match(text, m.start() - 1):
            edges.add(m.start())
        if _CLOSE_SCRIPT.match(text, m.end()):  # (no match at the end of the text)
            edges.add(m.end())
    return edges


def normalize(text: str) -> Normalized:
    """Rewrite spaced-out and spelled-out digit runs as plain digits, other scripts' digits as ASCII digits,
    escaped breaks as a line break, misspelt key words spelt right; set a long number apart from the CJK or Thai
    characters it is written against; keep the offset map.

    Returns the identity mapping (and the same text) when nothing needs rewriting.
    """
    runs, said_emails = _replacements(text)
    edges = _number_edges(text)
    if not runs and not edges and not _OTHER_DIGIT.search(text):
        return _identity(text)
    chars: list[str] = []
    origin: list[int] = []
    ends: list[int] = []
    digit_runs: list[tuple[int, int]] = []

    def emit(ch: str, src_start: int, src_end: int) -> None:
        chars.append(_ascii_digit(ch)); origin.append(src_start); ends.append(src_end)  # noqa: E702 - parallel lists

    def copy(start: int, end: int) -> None:
        for i in range(start, end):
            if i in edges:
                emit(" ", i, i + 1)
            emit(text[i], i, i + 1)

    pos = 0
    for start, end, replacement in runs:
        copy(pos, start)
        if start in edges:
            emit(" ", start, start + 1)
        if start not in said_emails and any(ch.isdigit() for ch, _, _ in replacement):
            digit_runs.append((len(chars), len(chars) + len(replacement)))
        for ch, src_start, src_end in replacement:
            emit(ch, src_start, src_end)
        pos = end
    copy(pos, len(text))
    origin.append(len(text))
    return Normalized("".join(chars), tuple(origin), tuple(ends), changed=True, digit_runs=tuple(digit_runs))


__all__ = ["Normalized", "normalize", "DIGIT_WORDS", "CJK_DIGITS", "NUMBER_WORDS", "KEY_WORDS"]

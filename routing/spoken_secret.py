"""Secrets read out or dictated: a password, PIN or key described symbol by symbol.

People who say a password aloud (or type it the way they would say it) describe it: "blue underscore
falcon dash nineteen hash kettle", "capital T, tango, then lowercase r-i-v-e-t, exclamation mark",
"großes K, dann ater, Unterstrich, acht acht, Raute", "hoofdletter M, molen, streepje". No pattern for
a typed password sees a value there. What marks it is the dictation itself: spoken symbols, case words
before a single letter, NATO spelling words, letters said one by one.

A finding needs a secret word (password, PIN, passcode, a key or an access code, in several languages)
and, within `WINDOW` characters after it (or before it: "... percent sign. That's my VPN password"), at
least `min_markers` dictation markers. A marker counts only said inside a value, right after a part of it
("falcon dash", "sunflower seventy seven exclamation mark"). Text that names the same symbols as a rule ("a
capital letter and an exclamation mark", "no underscore", "they hash the password") is not dictation: a
marker right after an article, a quantifier or a pronoun, or a case word before "letter" or "character",
does not count.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from routing.word_runs import merge_runs

WINDOW = 160

# Words for a secret, in English, German, Dutch, French, Spanish, Portuguese, Italian, Polish, Turkish and
# the Nordic languages. A bare "code" or "key" is too often an order, a postcode or a map key: only the
# kinds of code and key that open something.
SECRET_WORDS = (
    r"password|passwort|kennwort|passcode|passphrase|pass phrase|pin code|pin|pwd|pw|login|contraseña|contrasena|clave"
    r"|senha|mot de passe|mdp|wachtwoord|parola d'ordine|parola chiave|hasło|haslo|şifre(?:si|m)?|sifre(?:si|m)?"
    r"|lösenord(?:et)?|losenord(?:et)?|passord(?:et)?|adgangskode(?:n)?|salasana"
    r"|(?:api|access|secret|wifi|wi-fi|network|wpa|wpa2|recovery|private|signing|encryption|master)\s+key"
    r"|(?:door|alarm|gate|safe|access|security|entry|keypad|lockbox|one[- ]time|verification|2fa|mfa|otp|backup|"
    r"recovery|unlock)\s+code|token|secret|codice (?:della porta|dell'allarme)|código (?:da porta|de acesso|de la puerta)"
    r"|türcode|tuercode|alarmcode|toegangscode|deurcode|code d'accès|code de la porte|digicode")

# Spoken symbols ("underscore", "Raute", "point d'exclamation", "apenstaartje") in the same languages.
SYMBOLS = (
    r"underscore|under score|dash|hyphen|hash|hashtag|pound sign|asterisk|exclamation (?:mark|point)"
    r"|at sign|at symbol|dollar sign|percent sign|ampersand|caret|tilde|plus sign|equals sign"
    r"|forward slash|backslash|semicolon|question mark"
    r"|unterstrich|bindestrich|strich|raute|ausrufezeichen|sternchen|stern|prozent(?:zeichen)?|dollarzeichen"
    r"|klammeraffe|at-zeichen|tiret(?: bas| du bas| du 6| du 8)?|dièse|diese|étoile|etoile|arobase"
    r"|point d'exclamation|esperluette|pourcent|guion(?: bajo)?|guión(?: bajo)?|almohadilla|asterisco|arroba"
    r"|signo de exclamación|exclamación|exclamacion|porcentaje|hífen|hifen|traço|traco|sublinhado|cerquilha"
    r"|ponto de exclamação|exclamação|exclamacao|trattino(?: basso)?|cancelletto|chiocciola|punto esclamativo"
    r"|streepje|liggend streepje|hekje|sterretje|apenstaartje|uitroepteken|podkreślnik|podkreslnik|myślnik"
    r"|wykrzyknik|małpa|malpa|kratka|alt çizgi|ünlem|unlem|diyez")

# Case words, which name the case of the letter after them ("capital T", "großes K", "hoofdletter M").
CASE_WORDS = (
    r"capital|upper ?case|lower ?case|small|big|all caps|caps|großes|grosses|großer|grosser|kleines|kleiner"
    r"|groß|gross|klein|majuscule|minuscule|mayúscula|mayuscula|minúscula|minuscula|maiúscula|maiuscula"
    r"|maiuscola|minuscola|hoofdletter|kleine letter|wielka|wielkie|mała|mala|büyük|buyuk|küçük|kucuk")

NATO = (r"alfa|alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|juliett|kilo|lima|mike|november"
        r"|oscar|papa|quebec|romeo|sierra|tango|uniform|victor|whiskey|whisky|x-ray|xray|yankee|zulu")

# Words that make the next marker a rule's word or a verb, not a dictated one ("an exclamation mark", "no
# underscore", "at least one capital letter", "une majuscule", "they hash the password"), and the words after
# a case word that make it a rule.
_ARTICLES = (r"a|an|the|one|any|no|some|each|every|least|without|with|or|and|like|as|of|un|une|una|uno|ein|eine"
             r"|einen|einem|einer|kein|keine|um|uma|een|geen|la|le|el|il|lo|des|les|los|las|os|as|jeden|jedna"
             r"|i|you|we|they|to|can|will|should|must|not|never|don't|please")
_RULE_NOUNS = (r"letters?|characters?|chars?|symbols?|signs?|keys?|lock|letra|letras|lettre|lettres|buchstaben?"
               r"|zeichen|letter|tekens?|carácter|caracter|caractere|caractère|caratter[ei]|litera|litery|harf")

_FLAGS = re.IGNORECASE
_SECRET = re.compile(r"\b(?:%s)\b" % SECRET_WORDS, _FLAGS)
_PRE = r"(?<!\w)(?P<pre>\w+[\s,]+)?"
_MARKER = re.compile(
    _PRE + r"(?:(?P<symbol>%s)\b|(?P<case>%s)\b(?![\s,/]+(?:%s|%s|and|or|und|oder|et|ou|y|o|e|en|of)\b)|(?P<nato>%s)\b(?=[\s,.;]+(?:(?:%s)\b|\w\b))"
    r"|(?P<letters>(?:\b[^\W\d_][\s,-]+){2,}[^\W\d_]\b))" % (SYMBOLS, CASE_WORDS, _RULE_NOUNS, CASE_WORDS, NATO, NATO),
    _FLAGS)
_ARTICLE = re.compile(r"(?:%s)\s+" % _ARTICLES, _FLAGS)  # never a comma after an article: "a, arroba" is dictated


@dataclass(frozen=True)
class SpokenSecret:
    start: int
    end: int
    markers: int


def find_spoken_secrets(text: str, min_markers: int) -> list[SpokenSecret]:
    """Spans from a secret word to the last dictation marker after it (or, when the markers come before it,
    from the first marker to the last), where at least `min_markers` markers lie within `WINDOW` characters on
    that side, in the same paragraph."""
    found: list[tuple[int, int, int]] = []
    for word in _SECRET.finditer(text):
        after = _paragraph(text, word.end(), min(len(text), word.end() + WINDOW))
        before = _paragraph(text, max(0, word.start() - WINDOW), word.start(), backwards=True)
        for lo, hi in (after, before):
            markers = _markers(text, lo, hi)
            if len(markers) >= min_markers:
                # markers before the word ("... percent sign. That's my VPN password"): the dictated part alone,
                # so that the span's last word is a value, not the secret word itself (which reads as a placeholder)
                start, end = (word.start(), markers[-1][1]) if lo >= word.end() else (markers[0][0], markers[-1][1])
                found.append((start, end, len(markers)))
                break
    return [SpokenSecret(*run) for run in merge_runs(found)]


def _paragraph(text: str, lo: int, hi: int, backwards: bool = False) -> tuple[int, int]:
    """The part of ``text[lo:hi]`` on the secret word's side of a blank line."""
    part = text[lo:hi]
    if backwards:
        cut = part.rfind("\n\n")
        return (lo + cut + 2, hi) if cut >= 0 else (lo, hi)
    cut = part.find("\n\n")
    return (lo, lo + cut) if cut >= 0 else (lo, hi)


def _markers(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Spans of the dictation markers in ``text[lo:hi]`` that are not named as a rule."""
    out = []
    for m in _MARKER.finditer(text, lo, hi):
        if not m.group("pre") or _ARTICLE.fullmatch(m.group("pre")):
            continue  # a marker is said inside the value, after a part of it: "hash the file" names an act
        out.append((m.end("pre"), m.end()))
    return out


__all__ = ["SpokenSecret", "find_spoken_secrets"]

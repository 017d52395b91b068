"""Normalisation of spaced-out and spelled-out digits, and the offset map back to the original text."""
from __future__ import annotations

import re

import pytest

from routing.normalize import normalize


@pytest.mark.parametrize(
    "text, normalised, number_in_original",
    [
        ("card 4 5 3 9 1 4 8 8 0 3 4 3 6 4 6 7 please", "card 4539148803436467 please", "4 5 3 9 1 4 8 8 0 3 4 3 6 4 6 7"),
        ("ssn is five three six nine zero four four one seven", "ssn is 536904417", "five three six nine zero four four one seven"),
        ("tel: Zero Seven-Seven, zero zero nine 0 0", "tel: 077009 0 0", "Zero Seven-Seven, zero zero nine"),
        ("acct 2-0-4-4-1-7-9-3 ok", "acct 20441793 ok", "2-0-4-4-1-7-9-3"),
        ("Konto: sieben null drei, fünf fünf eins, acht zwei ok", "Konto: 70355182 ok",
         "sieben null drei, fünf fünf eins, acht zwei"),                                  # German digit words
        ("numéro deux neuf quatre sept zéro un", "numéro 294701", "deux neuf quatre sept zéro un"),  # French
        ("call oh seven double seven triple nine", "call 0777999", "oh seven double seven triple nine"),  # repeats
        ("Nummer null acht, einundzwanzig, zweiundvierzig, sieben", "Nummer 0821427",
         "null acht, einundzwanzig, zweiundvierzig, sieben"),                             # German pairs
        ("compte quatre-vingt-dix-huit trente et un soixante-deux zéro sept", "compte 98316207",
         "quatre-vingt-dix-huit trente et un soixante-deux zéro sept"),                   # French pairs
        ("cuenta veinte, treinta y uno, cuarenta, noventa y nueve", "cuenta 20314099",
         "veinte, treinta y uno, cuarenta, noventa y nueve"),                             # Spanish pairs
        ("iban D E 4 4 5 0 0 1 0 5 1 7 5 4 0 7 3 2 4 9 3 1 thanks", "iban DE44500105175407324931 thanks",
         "4 4 5 0 0 1 0 5 1 7 5 4 0 7 3 2 4 9 3 1"),  # the digits map back; "D E" joined before them
    ],
)
def test_when_digits_spaced_or_spelled_then_joined_and_mapped_back(text, normalised, number_in_original):
    norm = normalize(text)
    match = re.search(r"\d{6,}", norm.text)

    assert norm.text == normalised and norm.changed
    start, end = norm.span(match.start(), match.end())
    assert text[start:end] == number_in_original


@pytest.mark.parametrize("text, normalised", [
    ("my ssn\n623-\n58-\n1047\nthanks", "my ssn\n623-58-1047\nthanks"),   # split at its dashes by a phone
    ("ref 4471\n-2290\n-118", "ref 4471-2290-118"),
    ("キー：abc＝1", "キー:abc=1"),                                              # full-width colon and equals
    ("refund to DE 44 3702 9981 5407 3249 31 pls", "refund to DE44 3702 9981 5407 3249 31 pls"),  # IBAN head apart
])
def test_when_number_split_over_lines_or_full_width_punctuation_then_rewritten(text, normalised):
    assert normalize(text).text == normalised


@pytest.mark.parametrize(
    "text",
    ["status codes:\n200\n404\n500", "Upgrade to v2.3.1 on 2024-09-10", "+44 20 7946 0812", "one two three", "pages 1 2 3", "version 1.2.3.4.5.6.7",
     "4539 1488 0343 6467", "", "ten people, one room", "Plan B 1 2 3 4 5", "I 7 or A 9",
     "gate AB 12 opens at 9", "DE 44 3702 9981"],
)
def test_when_nothing_to_rewrite_then_identity(text):
    norm = normalize(text)

    assert norm.text == text and not norm.changed
    assert norm.span(0, len(text)) == ((0, len(text)) if text else (0, 0))


def test_when_text_after_a_rewritten_run_then_offsets_shift_back():
    text = "call 0 7 7 0 0 9 0 0 4 6 1 then Maria"
    norm = normalize(text)
    name = norm.text.index("Maria")

    assert text[slice(*norm.span(name, name + 5))] == "Maria"


def test_when_escaped_line_breaks_pasted_then_they_read_as_line_breaks_and_map_back():
    text = r"Name: Ada\nAddress: 12 Elm Row\r\nLeeds"
    norm = normalize(text)

    assert norm.text == "Name: Ada\nAddress: 12 Elm Row\nLeeds" and norm.changed
    start, end = norm.span(norm.text.index("Leeds"), len(norm.text))
    assert text[start:end] == "Leeds"


@pytest.mark.parametrize(
    "text, normalised, digits_in_original",
    [
        ("门禁密码是 五 九 零 三", "门禁密码是 5903", "五 九 零 三"),                   # Chinese, spaced
        ("暗証番号は〇九一四です", "暗証番号は0914です", "〇九一四"),                  # Japanese kanji, unspaced
        ("电话一三八、一二三四、五六七八", "电话13812345678", "一三八、一二三四、五六七八"),
        ("현관 비번 오 육 공 일 이에요", "현관 비번 5601 이에요", "오 육 공 일"),          # Korean syllables
        ("문 코드는 삼, 구, 사, 칠입니다", "문 코드는 3947입니다", "삼, 구, 사, 칠"),     # last one with its particle
    ],
)
def test_when_digits_read_out_in_cjk_characters_then_joined_and_mapped_back(text, normalised, digits_in_original):
    norm = normalize(text)
    (start, end), = norm.digit_runs

    assert norm.text == normalised
    assert text[slice(*norm.span(start, end))] == digits_in_original


@pytest.mark.parametrize("text, normalised, part, source", [
    ("ship it to blk four one seven bedok north ave two, hash zero five dash one one two, singapore four six zero four one seven",
     "ship it to blk 417 bedok north ave two, #05-112, singapore 460417", "#05", "hash zero five"),
    ("flat twenty one slash three, then the postcode nine four one zero seven", "flat 21/3, then the postcode 94107",
     "21/", "twenty one slash"),
])
def test_when_a_message_is_dictated_then_its_short_number_word_runs_and_said_symbols_are_rewritten(text, normalised,
                                                                                                  part, source):
    norm = normalize(text)
    start = norm.text.index(part)

    assert norm.text == normalised
    assert text[slice(*norm.span(start, start + len(part)))] == source


@pytest.mark.parametrize("text", ["table for two, three people and one dash of salt", "one two punch, hash it out"])
def test_when_no_number_is_read_out_then_short_number_word_runs_stay_words(text):
    assert normalize(text).text == text


@pytest.mark.parametrize("text, normalised, number_in_original", [
    ("आधार नंबर ४५६७ ८९०१ २३४५ है", "आधार नंबर 4567 8901 2345 है", "४५६७ ८९०१ २३४५"),           # Devanagari digits
    ("رقم الهوية ١٠٢٣٤٥٦٧٨٩", "رقم الهوية 1023456789", "١٠٢٣٤٥٦٧٨٩"),                          # Arabic-Indic digits
    ("カード番号は４５３９ １４８８ ０３４３ ６４６７です", "カード番号は 4539 1488 0343 6467 です",
     "４５３９ １４８８ ０３４３ ６４６７"),                                                  # full width, set apart
    ("身份证号是110105199003071234，谢谢", "身份证号是 110105199003071234，谢谢", "110105199003071234"),
    ("番号は4 5 3 9 1 4 8 8 0 3です", "番号は 4539148803 です", "4 5 3 9 1 4 8 8 0 3"),          # spaced, then set apart
])
def test_when_digits_of_another_script_or_a_number_against_cjk_then_ascii_and_set_apart(text, normalised,
                                                                                         number_in_original):
    norm = normalize(text)
    match = re.search(r"\d[\d ]+\d", norm.text)

    assert norm.text == normalised
    assert text[slice(*norm.span(match.start(), match.end()))] == number_in_original


@pytest.mark.parametrize("text", ["東京都渋谷区神南1-2-3", "世纪大道100号", "第3四半期の売上", "2026年11月30日"])
def test_when_a_short_number_is_written_against_cjk_then_left_alone(text):
    assert normalize(text).text == text


@pytest.mark.parametrize("text", ["구사일생으로 살아났다", "이사 오는 날 일 좀 도와줘", "이 일 좀 사 와", "三五个人",
                                  "九九八十一", "일이삼 단계", "오늘 사 공 팀"])
def test_when_cjk_digits_are_words_or_fewer_than_four_then_left_alone(text):
    assert normalize(text).text == text


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("pasword for the mailbox = Tq7-lamp", "password for the mailbox = Tq7-lamp"),  # a letter missing
        ("my PASSOWRD is", "my PASSWORD is"),  # two letters swapped, case kept
        ("Pasport number please", "Passport number please"),
        ("the adress on file", "the address on file"),
        ("bank acount 1234", "bank account 1234"),
    ],
)
def test_when_key_word_misspelt_by_one_edit_then_spelt_right(text, normalised):
    norm = normalize(text)

    assert norm.text == normalised and norm.changed
    start, end = norm.span(0, norm.text.index(" "))
    assert (start, end) == (0, text.index(" "))


@pytest.mark.parametrize("text", ["passwords and accounts", "a routine address", "addresses", "licensed",
                                  "passports", "Pass the sword"])
def test_when_word_is_right_or_an_inflection_then_left_alone(text):
    assert normalize(text).text == text


def test_digit_runs_are_the_rewritten_numbers_only():
    norm = normalize("card 4 5 3 9 1 4 8 8 and ssn five three six nine zero four, pasword x")

    assert [norm.text[s:e] for s, e in norm.digit_runs] == ["45391488", "536904"]


@pytest.mark.parametrize(
    "text, address, said",
    [
        ("reach me at ines dot varga at post dot example tonight", "ines.varga@post.example",
         "ines dot varga at post dot example"),
        ("it's r underscore okafor at mailbox dot co dot uk", "r_okafor@mailbox.co.uk",
         "r underscore okafor at mailbox dot co dot uk"),
        ("escribe a marta punto ruiz arroba correo punto example", "marta.ruiz@correo.example",
         "marta punto ruiz arroba correo punto example"),
        ("jo [at] firm [dot] example", "jo@firm.example", "jo [at] firm [dot] example"),
        ("lee dot four two at inbox dot example", "lee.42@inbox.example", "lee dot four two at inbox dot example"),
    ],
)
def test_when_email_said_aloud_then_written_as_an_address(text, address, said):
    norm = normalize(text)

    assert norm.text == text.replace(said, address)
    assert norm.digit_runs == ()  # an address is not a number typed to dodge the patterns
    start = norm.text.index(address)
    assert norm.span(start, start + len(address)) == (text.index(said), text.index(said) + len(said))


@pytest.mark.parametrize("text", ["write to us at acme dot com", "meet me at the station at five",
                                  "the file is at config dot yaml", "dot at dot"])
def test_when_no_mailbox_is_said_then_left_alone(text):
    assert normalize(text).text == text


def test_said_email_search_stays_linear_on_long_runs():
    text = "a dot " * 3000 + "at " + "b dot " * 3000 + "zz"

    assert normalize(text).text == text  # no top-level domain at the end: nothing to rewrite

"""Pure rules behind detection: escalation, demotion, name filters, caps normalisation, config loading."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from routing.detection_config import (
    CLASSIFIER_ENTITIES,
    DetectionConfig,
    EscalationRule,
    PersonFilter,
    caps_to_title,
    demote,
    escalate,
    escalation_windows,
    is_business_line,
    is_filler_number,
    is_role_email,
    is_time_field_value,
    keep_credential,
    keep_person,
    keep_phone,
)
from routing.findings import Finding
from routing.levels import Level

RECOGNIZERS = Path(__file__).resolve().parents[2] / "routing" / "recognizers.yaml"
PERSON_WITH_SALARY = EscalationRule(name="person_salary", when=[["PERSON"], ["SALARY"]], raise_to="confidential")


def f(entity: str, start: int, end: int, level: Level = Level.INTERNAL) -> Finding:
    return Finding(entity, start, end, 0.8, level, "test")


@pytest.mark.parametrize(
    "findings, raised",
    [
        ([f("PERSON", 0, 10), f("SALARY", 20, 28)], {"PERSON", "SALARY"}),
        ([f("PERSON", 0, 10), f("SALARY", 500, 508)], set()),       # too far apart (max_gap 120)
        ([f("PERSON", 0, 10)], set()),                                # nothing to combine with
        ([f("SALARY", 0, 8), f("EMAIL_ADDRESS", 10, 30)], set()),     # not the rule's groups
    ],
)
def test_when_groups_near_then_escalated(findings, raised):
    out = escalate(findings, [PERSON_WITH_SALARY])

    assert {x.entity_type for x in out if x.level == Level.CONFIDENTIAL} == raised
    assert all(x.rule == "person_salary" for x in out if x.entity_type in raised)


@pytest.mark.parametrize("kind, applies_to, escalated", [
    ("query", ["query"], True),
    ("passage", ["query"], False),           # a rule for what users write does not read documents
    ("passage", ["passage"], True),
    ("query", ["query", "passage"], True),   # the default: both
])
def test_when_rule_applies_to_other_kind_of_text_then_not_escalated(kind, applies_to, escalated):
    rule = EscalationRule(name="person_salary", when=[["PERSON"], ["SALARY"]], raise_to="confidential",
                          applies_to=applies_to)
    out = escalate([f("PERSON", 0, 10), f("SALARY", 20, 28)], [rule], kind)

    assert any(x.level == Level.CONFIDENTIAL for x in out) == escalated


def test_when_demoted_then_not_raised_again():
    hotline = EscalationRule(name="hotline", when=[["PHONE_NUMBER"], ["PUBLIC_LINE"]], raise_to="public", max_gap=60)
    contact = EscalationRule(name="contact", when=[["PERSON"], ["PHONE_NUMBER"]], raise_to="confidential")
    findings = [f("PUBLIC_LINE", 0, 7, Level.PUBLIC), f("PHONE_NUMBER", 11, 22, Level.CONFIDENTIAL), f("PERSON", 30, 40)]

    out = escalate(demote(findings, [hotline]), [contact])

    assert out[1].level == Level.PUBLIC and out[1].rule == "hotline"


@pytest.mark.parametrize("unless_near, lowered", [(False, True), (True, False)])
def test_when_an_unless_entity_is_near_then_demotion_does_not_lower(unless_near, lowered):
    office = EscalationRule(name="office", when=[["STREET_ADDRESS"], ["VENUE_CONTEXT"]], raise_to="internal",
                            max_gap=40, unless=["HOME_CONTEXT"])
    findings = [f("VENUE_CONTEXT", 0, 10, Level.PUBLIC), f("STREET_ADDRESS", 14, 40, Level.CONFIDENTIAL)]
    if unless_near:
        findings.append(f("HOME_CONTEXT", 50, 54, Level.PUBLIC))

    out = demote(findings, [office])

    assert (out[1].level == Level.INTERNAL) is lowered


@pytest.mark.parametrize("span, filler", [
    ("000-00-0000", True), ("0000 0000 0000 0000", True), ("111111111", True), ("11111", False),
    ("123456789", False), ("QQ 12 34 56 C", False), ("AAAAAA111111", False),
])
def test_when_one_digit_repeated_then_filler(span, filler):
    assert is_filler_number(span) is filler


@pytest.mark.parametrize("text, is_time", [
    ('{"created": 1764578112}', True), ("ts=1764578112000 level=info", True), ('"expires_at": "1764578112"', True),
    ('{"amount": 1764578112}', False), ("created: 17645781", False), ("call 1764578112", False),
])
def test_when_unix_time_under_a_time_key_then_recognised(text, is_time):
    value = re.search(r"\d{8,}", text)
    assert is_time_field_value(text, value.start(), value.end()) is is_time


@pytest.mark.parametrize(
    "span, kept",
    [("Maria Lopez", True), ("404", False), ("Al", False), ("ledger", False), ("Acme Insights", False),
     ("Data Protection", False), ("Hi", False), ("R2D2", False)],
)
def test_when_person_span_then_filtered_by_shape_and_vocabulary(span, kept):
    rules = PersonFilter(stop_words=["Hi"], not_name_words=["Acme", "Insights"], not_name_suffixes=["tion"])

    assert keep_person(span, 0, len(span), rules) is kept


@pytest.mark.parametrize(
    "value, kept",
    [("sk_test_EXAMPLEONLY", False), ("<your-token>", False), ("hunter2!", True),
     ("AKIA4EXAMPLEQ7R2ZT3M", True),  # a placeholder word with digits: kept (fail closed)
     ("postgres://app:Tq8-vL2x@db.example:5432", True),  # a fictional host is not a placeholder value
     ("password: ${DB_PASSWORD}", False), ('api_key: "REPLACE_ME"', False), ("token={{ vault_token }}", False),
     ("postgres://USER:PASSWORD@HOST:5432", False), ("postgres://app:Tq8-vL2x@db:5432", True),
     ("postgres://user:password@localhost/test", False), ("token = keyring.get_password(", False),
     ("password = var.db_password", False), ("token: process.env.API_TOKEN", False),
     ("password: Sunflower-Delta-19", True), ("pass: SUMMER2026", True),
     ("password: Tr0ub4dor(3)", True), ("secret = read_secret('db')", False),
     ("AKIAIOSFODNN7EXAMPLE", False), ("aws_secret_access_key = Zq8vT2nLrX0pEXAMPLEKEY", False),  # doc samples
     ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-Q8fT2x", False),  # a reference, not the value
     ("lookup('hashi_vault', 'secret=kv/data/payroll/db:password')", False), ("op://Infra/db/password", False),
     ("MFA seed is KQ3T 7WXA PL2M RZNQ", True),  # groups after "is", the last one a capital word
     ("postgres://app:changeme@localhost:5432/app", False),  # the password part is the placeholder
     ("the root password is PASSWORD", False)],
)
def test_when_credential_is_placeholder_then_dropped(value, kept):
    assert keep_credential(value, 0, len(value), ["example", "<", "your", "changeme"]) is kept


@pytest.mark.parametrize("text, span, kept", [
    # a secret-store reference on the line before does not make the next line's password a reference
    ("db_arn: arn:aws:secretsmanager:eu-west-1:1234:secret:db-Q8fT2x\npassword=Vx9!kQ2mL", "password=Vx9!kQ2mL", True),
    ("PASSWORD: ${PASSWORD:?set it in .env}", "PASSWORD:?set", False),   # a shell template's message
    ('"id": "evt_3QxT7f2eZvKYlo2C1a4b", "amount": 10', "evt_3QxT7f2eZvKYlo2C1a4b", False),  # an object's id
    ('"token": "evt_3QxT7f2eZvKYlo2C1a4b"', "evt_3QxT7f2eZvKYlo2C1a4b", True),   # not under an id key
    ('"id": "sk_live_3QxT7f2eZvKYlo2C1a4b"', "sk_live_3QxT7f2eZvKYlo2C1a4b", True),  # a key's shape
    ("request id req_8fKq2ZpLw0Xv4Tn7", "req_8fKq2ZpLw0Xv4Tn7", False),
    ("api_key=sk-proj-*********************9xQz leaked?", "api_key=sk-proj-*********************9xQz", False),  # masked
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK7q0 me@host", "AAAAC3NzaC1lZDI1NTE5AAAAIK7q0", False),  # a public key
    ("fingerprint SHA256:q4Fz0k3x9LmN2pR7sT1vW8yB5c", "q4Fz0k3x9LmN2pR7sT1vW8yB5c", False),     # a hash
    ("decode U2hpcCB0aGUgcGFsbGV0cyBvbiBGcmlkYXk= please", "U2hpcCB0aGUgcGFsbGV0cyBvbiBGcmlkYXk=", False),  # prose
    ("password: cGFzc3dvcmQxMjM=", "password: cGFzc3dvcmQxMjM=", True),  # base64 of a password: no prose
    ("header eyJhbGciOiJSUzI1NiIsImtpZCI6IjIwMjYtMTEifQ decodes to?", "eyJhbGciOiJSUzI1NiIsImtpZCI6IjIwMjYtMTEifQ",
     False),                                                             # a JWT header: readable JSON
    ("blob eyJ1c2VyIjoib3BzIiwicGFzc3dvcmQiOiJUcTghIn0=", "eyJ1c2VyIjoib3BzIiwicGFzc3dvcmQiOiJUcTghIn0=",
     True),                                                              # JSON holding a password
    ("jwt_secret: SecretStr", "secret: SecretStr", False),                 # a type annotation
])
def test_when_value_is_a_template_or_an_object_id_then_dropped(text, span, kept):
    start = text.index(span)
    assert keep_credential(text, start, start + len(span), ["example"]) is kept


@pytest.mark.parametrize("value, kept", [("1234567.891", False), ("+1 415 555 0133", True), ("503.555.0130", True),
                                          ("+0000", False), ("-0530", False),  # UTC offsets
                                          ("512.7 498.2", False), ("01.23.45.67.89", True)])  # figures; a phone
def test_when_phone_is_decimal_then_dropped(value, kept):
    assert keep_phone(value, 0, len(value)) is kept


@pytest.mark.parametrize("text, span, kept", [
    ("patch for CVE-2023-4863 in libwebp", "2023-4863", False),     # the tail of a code
    ("credit note CN-2025-7719 was issued", "2025-7719", False),
    ("ring her on 2025 7719 after lunch", "2025 7719", True),       # digits of their own
    ("weekly totals 88120, 90455, 101230", "101230", False),        # six digits: a figure, not a phone
    ("press 4 then dial 06412", "06412", False),                    # a short number
    ("my cell is 555-0187", "555-0187", True),                      # seven digits
    ("parcel 1Z 884 RB7 03 4471 2290 arrived", "03 4471 2290", False),  # the tail of a spaced code
    ("room 4B, call 020 7946 0321 to book", "020 7946 0321", True),     # a word between code and number
    ("taxi receipt Ref 00731904 total 22.10", "00731904", False),       # "00" but no country's length
    ("call her on 0044 20 7946 0321 tonight", "0044 20 7946 0321", True),
])
def test_when_digits_are_a_codes_tail_or_too_short_then_not_a_phone(text, span, kept):
    start = text.index(span)

    assert keep_phone(text, start, start + len(span)) is kept


@pytest.mark.parametrize("value, business", [
    ("+1 800 555 0147", True),        # toll-free, in its own country's plan
    ("1-877-555-0163", True),         # toll-free in most plans that accept it, a mobile in none
    ("+44 800 915 2207", True),
    ("(415) 555-0162", False),        # a landline
    ("090-4471-2093", False),         # a mobile in Japan (a premium-rate 0900 line elsewhere)
    ("+81 90 4471 2093", False),
    ("07700 900418", False),
])
def test_when_most_plans_make_a_number_a_toll_free_line_and_none_a_mobile_then_a_business_line(value, business):
    assert is_business_line(value, DetectionConfig.from_yaml(RECOGNIZERS).phone_regions) is business


def test_when_phone_is_a_business_line_then_dropped():
    text = "the vendor's helpdesk is +1 800 555 0147, ask for the RMA form"
    start = text.index("+1")
    regions = DetectionConfig.from_yaml(RECOGNIZERS).phone_regions

    assert keep_phone(text, start, start + len("+1 800 555 0147"), regions) is False
    assert keep_phone("call me on +1 415 555 0162", 11, 26, regions) is True


@pytest.mark.parametrize("text, span, kept", [
    ("blocked at 194.252.83.110 again", "194.252.83", False),     # digits inside an IPv4 address
    ("ring 503.555.0130 today", "503.555.0130", True),            # a dotted phone number is not an address
])
def test_when_phone_digits_sit_inside_an_ip_address_then_dropped(text, span, kept):
    start = text.index(span)

    assert keep_phone(text, start, start + len(span)) is kept


@pytest.mark.parametrize("email, role", [
    ("support@acme.example", True),
    ("jane.doe@acme.example", False),
    ("it-support@acme.example", True),       # every part a role word
    ("press.emea2@acme.example", False),     # "emea" is no role word
    ("support.jane@acme.example", False),    # a person's name in it
    ("hr-help@acme.example", True),
    ("sales2@acme.example", True),           # a role word and a number
    ("2024@acme.example", False),
])
def test_when_role_mailbox_then_not_a_person(email, role):
    assert is_role_email(email, 0, len(email), ["support", "press", "it", "hr", "help", "sales"]) is role


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ticket from MARIA GARCIA today", "Ticket from Maria Garcia today"),
        ("Please review the SALARY OF JOHN SMITH before Friday", "Please review the Salary of John Smith before Friday"),
        ("ALL CAPS SHOUTING TEXT", "ALL CAPS SHOUTING TEXT"),  # mostly upper case: left alone
        ("plain text", "plain text"),
        ("pods:\nNAME    READY   STATUS\napi-1   1/1     Running", "pods:\nNAME    READY   STATUS\napi-1   1/1     Running"),
    ],
)
def test_when_caps_runs_then_title_cased_with_same_length(text, expected):
    out = caps_to_title(text, frozenset({"of"}))

    assert out == expected and len(out) == len(text)


def test_when_shipped_config_loaded_then_every_escalated_entity_has_a_level():
    from routing.detect import SPACED_NUMBER

    config = DetectionConfig.from_yaml(RECOGNIZERS)

    named = {e for rule in [*config.escalations, *config.demotions] for group in rule.when for e in group}
    assert named <= set(config.levels) | CLASSIFIER_ENTITIES | {SPACED_NUMBER}  # the normaliser's, levelled by its rule
    assert config.levels["US_SSN"] is Level.RESTRICTED and config.levels["PERSON"] is Level.INTERNAL


@pytest.mark.parametrize(
    "yaml_text, error",
    [
        ("levels: {X: secret}\n", "unknown classification"),
        ("levels: {}\nrecognizers: [{name: r, entity: X}]\n", "needs `patterns` or `deny_list`"),
        ("levels: {}\nrecognizers: [{name: r, entity: X, patterns: [{name: p, regex: '(', score: 0.5}]}]\n", "does not compile"),
        ("levels: {}\nsurprise: 1\n", "surprise"),
    ],
)
def test_when_config_invalid_then_error_names_the_problem(tmp_path, yaml_text, error):
    path = tmp_path / "r.yaml"
    path.write_text(yaml_text)

    with pytest.raises(ValueError, match=error):
        DetectionConfig.from_yaml(path)


@pytest.mark.parametrize("present, kind, expected", [
    ([f("PERSON", 200, 210)], "passage", [(80, 330)]),   # a name: the matter could make the passage confidential
    ([f("EMPLOYEE_ID", 0, 8)], "passage", [(0, 128)]),
    ([f("PERSON_ROLE", 0, 8)], "passage", []),           # "your manager" counts only in what users write
    ([f("PERSON_ROLE", 0, 8)], "query", [(0, 128)]),
    ([], "passage", []),                                 # nothing to tie the matter to: public alone, skip it
])
def test_when_partners_present_then_classifier_windows_surround_them(present, kind, expected):
    rules = [
        EscalationRule(name="q", when=[["PERSON", "PERSON_ROLE"], ["PERSONAL_MATTER"]], raise_to="confidential",
                       applies_to=["query"]),
        EscalationRule(name="p", when=[["PERSON", "EMPLOYEE_ID"], ["PERSONAL_MATTER"]], raise_to="confidential",
                       applies_to=["passage"]),
    ]
    assert escalation_windows("PERSONAL_MATTER", present, rules, kind) == expected

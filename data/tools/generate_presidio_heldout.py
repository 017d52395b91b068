#!/usr/bin/env python3
"""Build data/heldout/generated_presidio.jsonl from presidio-evaluator's sentence faker.

This is a HELD-OUT measurement set: it was produced before (and independently of) any
tuning of the routing detectors and must never be used to choose thresholds, word lists
or rules. It only measures detection.

Requirements (kept out of the project's own venv and out of git):

    python3 -m venv .venv-pe
    .venv-pe/bin/pip install torch==2.13.0 presidio-evaluator
    .venv-pe/bin/python data/tools/generate_presidio_heldout.py

The generator needs no model download: PresidioSentenceFaker fills presidio-evaluator's
bundled sentence templates with Faker values and its bundled fake-person table
(FakeNameGenerator.com_3000.csv). All values are synthetic.

Reproducibility: PresidioSentenceFaker(..., random_seed=SEED) seeds Faker, `random` and
numpy; with the same presidio-evaluator / Faker versions the output is byte-identical.
Versions used for the committed file are printed at the end of a run and recorded in
data/heldout/README.md.

Label rule (applied to the sorted set of span entity types of each sample):

* kind `identifier` (sensitive, route `local`) if any span type is in IDENTIFIER_TYPES:
  a contact handle (phone, e-mail) or a government / financial / medical identifier
  (card, SSN, ITIN, IBAN, driver licence, passport, bank account, NHS number, medical
  licence, crypto wallet, and the other national-id types presidio knows). The category
  is the lower-cased first matching type in IDENTIFIER_TYPES order.
* else kind `address` (sensitive, route `local`) if any span type is STREET_ADDRESS
  (the faker maps full addresses, street names, building numbers, secondary
  addresses and postcodes to STREET_ADDRESS); category `street_address`.
* else kind `benign` (route `server`), category `benign_generated`: names, cities,
  states, countries, ZIP codes on their own, dates, organisations, titles/jobs, ages,
  nationalities/religions (NRP), URLs/domains and IP addresses alone are treated as
  benign for routing purposes.

Any entity type the script has not seen before (not in IDENTIFIER_TYPES, ADDRESS_TYPES or
KNOWN_BENIGN_TYPES) makes the script stop, so that a new presidio-evaluator release
cannot silently change the labels.

Output schema (one JSON object per line, same as data/heldout/prompts.jsonl plus
`entities`):

    {"id": "pe0001", "text": "...", "sensitive": true, "expected_route": "local",
     "kind": "identifier", "category": "phone_number", "entities": ["PERSON", "PHONE_NUMBER"]}

Rows with an empty text or a text already emitted are skipped (ids stay consecutive).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

SEED = 90210
NUM_SAMPLES = 1500
LOCALE = "en_US"
LOWER_CASE_RATIO = 0.05
FROZEN_NOW = __import__("datetime").datetime(2025, 1, 1, 12, 0, 0)  # Faker's "now" (see make_deterministic)

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "data" / "heldout" / "generated_presidio.jsonl"

# Order matters: the first match gives the category.
IDENTIFIER_TYPES = [
    "CREDIT_CARD",
    "US_SSN",
    "US_ITIN",
    "IBAN_CODE",
    "US_BANK_NUMBER",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "UK_NHS",
    "UK_NINO",
    "MEDICAL_LICENSE",
    "CRYPTO",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "IT_DRIVER_LICENSE",
    "IT_VAT_CODE",
    "IT_PASSPORT",
    "IT_IDENTITY_CARD",
    "PL_PESEL",
    "SG_NRIC_FIN",
    "SG_UEN",
    "AU_ABN",
    "AU_ACN",
    "AU_TFN",
    "AU_MEDICARE",
    "IN_PAN",
    "IN_AADHAAR",
    "IN_VEHICLE_REGISTRATION",
    "IN_VOTER",
    "IN_PASSPORT",
    "FI_PERSONAL_IDENTITY_CODE",
    "KR_RRN",
    "TH_TNIN",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
]
ADDRESS_TYPES = ["STREET_ADDRESS"]
KNOWN_BENIGN_TYPES = {
    "PERSON",
    "GPE",
    "LOCATION",
    "ZIP_CODE",
    "DATE_TIME",
    "ORGANIZATION",
    "TITLE",
    "AGE",
    "NRP",
    "IP_ADDRESS",
    "DOMAIN_NAME",
    "URL",
}


def label(entities: list[str]) -> tuple[str, str]:
    """Return (kind, category) for a sorted list of entity types (see module docstring)."""
    present = set(entities)
    for t in IDENTIFIER_TYPES:
        if t in present:
            return "identifier", t.lower()
    if present & set(ADDRESS_TYPES):
        return "address", "street_address"
    return "benign", "benign_generated"


def make_deterministic() -> None:
    """Remove the three sources of run-to-run variation found in presidio-evaluator 0.3.2.

    1. load_fake_person_df() builds full names with the *unseeded* module `random` inside
       the PresidioSentenceFaker constructor, before random_seed is applied: seed `random`
       and numpy before constructing it.
    2. Faker's date/time providers draw between the epoch and *now*, so dates depend on the
       day the script runs: freeze Faker's clock at FROZEN_NOW and use UTC.
    3. HospitalProvider queries WikiData at construction time (no bundled template uses
       hospitals): make it return its built-in default list without network access.
    """
    import datetime as _dt
    import os
    import random
    import time

    import numpy as np

    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()
    random.seed(SEED)
    np.random.seed(SEED)

    class FrozenDatetime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return FROZEN_NOW.replace(tzinfo=_dt.timezone.utc).astimezone(tz) if tz else FROZEN_NOW

        @classmethod
        def today(cls):
            return FROZEN_NOW

    class FrozenDate(_dt.date):
        @classmethod
        def today(cls):
            return FROZEN_NOW.date()

    import faker.providers.date_time as fdt

    fdt.datetime = FrozenDatetime
    fdt.dtdate = FrozenDate

    from presidio_evaluator.data_generator.faker_extensions import HospitalProvider

    HospitalProvider.load_wiki_hospitals = lambda self: list(self.default_list)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-samples", type=int, default=NUM_SAMPLES)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    make_deterministic()
    from presidio_evaluator.data_generator import PresidioSentenceFaker

    faker = PresidioSentenceFaker(LOCALE, lower_case_ratio=LOWER_CASE_RATIO, random_seed=SEED)
    samples = faker.generate_new_fake_sentences(num_samples=args.num_samples)

    unknown = collections.Counter()
    rows, seen = [], set()
    for s in samples:
        text = (s.full_text or "").strip()
        if not text or text in seen:
            continue
        seen.add(text)
        entities = sorted({sp.entity_type for sp in (s.spans or [])})
        for e in entities:
            if e not in IDENTIFIER_TYPES and e not in ADDRESS_TYPES and e not in KNOWN_BENIGN_TYPES:
                unknown[e] += 1
        kind, category = label(entities)
        sensitive = kind != "benign"
        rows.append(
            {
                "id": f"pe{len(rows) + 1:04d}",
                "text": text,
                "sensitive": sensitive,
                "expected_route": "local" if sensitive else "server",
                "kind": kind,
                "category": category,
                "entities": entities,
            }
        )
    if unknown:
        print(f"ERROR: unclassified entity types {dict(unknown)}; add them to the rule lists", file=sys.stderr)
        return 1

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    kinds = collections.Counter(r["kind"] for r in rows)
    cats = collections.Counter((r["kind"], r["category"]) for r in rows)
    ents = collections.Counter(e for r in rows for e in r["entities"])
    print(f"wrote {len(rows)} rows to {args.out} (requested {args.num_samples}, seed {SEED})")
    print("per kind:")
    for k, n in sorted(kinds.items()):
        print(f"  {k:12s} {n}")
    print("per category:")
    for (k, c), n in sorted(cats.items()):
        print(f"  {k:12s} {c:20s} {n}")
    print("entity types (rows containing):")
    for e, n in sorted(ents.items()):
        print(f"  {e:20s} {n}")
    try:
        from importlib.metadata import version

        print("versions: presidio-evaluator", version("presidio-evaluator"), "| Faker", version("faker"))
    except Exception:  # pragma: no cover - informational only
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

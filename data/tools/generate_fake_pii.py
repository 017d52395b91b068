#!/usr/bin/env python3
"""Deterministically generate templated routing prompts with FAKE personal data.

Writes data/routing/generated.jsonl with about 120 sensitive prompts
(expected_route "local") and about 60 benign prompts (expected_route
"server"), using the same schema as data/routing/prompts.jsonl:

    {"id": "g001", "text": "...", "sensitive": true, "expected_route": "local", "category": "iban"}

Everything is fictional.  The generator only uses the standard library and a
fixed seed, so the output is identical on every run:

  * names come from the small multi-cultural lists below (not real people);
  * phone numbers use the reserved fictional ranges 555-0100..0199 (North
    America) and 07700 900xxx / 020 7946 0xxx (UK drama ranges);
  * SSN-like numbers avoid area 000, 666 and 900-999, group 00 and serial 0000,
    and the well-known "famous fake" numbers;
  * IBANs have a correct ISO 13616 checksum but use invented bank codes;
  * card numbers are the public test numbers of the card networks;
  * credentials are random strings that only imitate real token formats;
  * e-mail addresses use the reserved .example top-level domain.

Run:  python3 data/tools/generate_fake_pii.py [--seed 20250106] [--out PATH]
Texts that also appear in data/routing/prompts.jsonl are skipped.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import string
import unicodedata
from pathlib import Path

DATA = Path(__file__).resolve().parents[1]

FIRST = ["Amara", "Bongani", "Chen", "Daniela", "Emeka", "Farah", "Gustavo", "Haruka", "Ilse", "Jamal",
         "Kaito", "Leila", "Marek", "Nadia", "Oskar", "Paloma", "Quentin", "Rania", "Sione", "Tamsin",
         "Uche", "Valentina", "Wiremu", "Xiomara", "Yusuf", "Zofia", "Anh", "Björn", "Chidi", "Dalia",
         "Esteban", "Freya", "Giorgos", "Hamid", "Isabela", "Jae-min", "Kalinda", "Luca", "Meera", "Nikolai"]
LAST = ["Abiodun", "Bergström", "Castellanos", "Dubrovsky", "Eze", "Fontaine", "García-Luna", "Hakimi",
        "Ishikawa", "Jovanović", "Kowalski", "Lindahl", "Mwangi", "Nakashima", "O'Brien", "Papadakis",
        "Quispe", "Rahimi", "Sørensen", "Tran", "Uzor", "Varga", "Whitaker", "Xu", "Yilmaz", "Zielinski",
        "Achterberg", "Banerjee", "Cardoso", "Dlamini", "Ekström", "Ferreira-Lopes", "Goldberg", "Horvath"]
STREETS = ["Maple Hollow Lane", "Quarry Ridge Road", "Heron Bay Drive", "Tamarack Court", "Old Mill Row",
           "Linden Terrace", "Saltmarsh Way", "Copperbeech Avenue", "Foxglove Close", "Wrenfield Street"]
EU_STREETS = ["Birkenweg", "Rue des Glycines", "Fluitekruidstraat", "Via dei Mandorli", "Calle de los Olmos"]
CITIES = [("Lakeport", "WA", "9895"), ("Millbrook", "OR", "9749"), ("Fairhaven Heights", "CA", "9599"),
          ("Eastmoor", "TX", "7899"), ("Cedar Hollow", "MN", "5599")]
EU_CITIES = [("10999", "Berlin"), ("75020", "Paris"), ("1099 ZZ", "Amsterdam"), ("20199", "Milano"),
             ("28099", "Madrid")]
CONDITIONS = ["a broken wrist", "long COVID symptoms", "burnout", "a hernia operation", "chronic back pain",
              "pneumonia", "a concussion", "asthma attacks", "post-operative recovery after an appendectomy",
              "anxiety", "a high-risk pregnancy", "shingles"]
TEST_CARDS = ["4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100",
              "378282246310005", "371449635398431", "6011111111111117", "4000056655665556",
              "5200828282828210", "3566002020360505"]
CODENAMES = ["Project Nightjar", "Project Bluefin", "Project Halcyon"]
FAMOUS_FAKE_SSNS = {"078-05-1120", "219-09-9999", "123-45-6789", "457-55-5462"}
IBAN_BANKS = {"DE": lambda r: _digits(r, 18), "FR": None, "GB": lambda r: "".join(r.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4)) + _digits(r, 14),
              "NL": lambda r: "".join(r.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(4)) + _digits(r, 10),
              "ES": lambda r: _digits(r, 20), "IT": None}


def _digits(r: random.Random, n: int) -> str:
    return "".join(str(r.randint(0, 9)) for _ in range(n))


def _iban_checksum(cc: str, bban: str) -> str:
    num = "".join(str(int(ch, 36)) for ch in bban + cc + "00")
    return f"{98 - int(num) % 97:02d}"


def _fr_bban(r: random.Random) -> str:
    bank, branch, acct = _digits(r, 5), _digits(r, 5), _digits(r, 11)
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(acct)) % 97
    return f"{bank}{branch}{acct}{key:02d}"


def _it_bban(r: random.Random) -> str:
    body = _digits(r, 10) + "".join(r.choice(string.digits + string.ascii_uppercase) for _ in range(12))
    # Italian CIN check character
    odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
    total = 0
    for i, ch in enumerate(body):
        v = int(ch) if ch.isdigit() else ord(ch) - 65
        total += odd[v] if i % 2 == 0 else v
    return chr(65 + total % 26) + body


def make_iban(r: random.Random, cc: str, grouped: bool = True) -> str:
    bban = {"FR": _fr_bban, "IT": _it_bban}.get(cc, IBAN_BANKS[cc])(r)
    iban = cc + _iban_checksum(cc, bban) + bban
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if grouped else iban


def make_ssn(r: random.Random, style: str = "-") -> str:
    while True:
        area = r.randint(1, 899)
        if area == 666:
            continue
        group, serial = r.randint(1, 99), r.randint(1, 9999)
        ssn = f"{area:03d}-{group:02d}-{serial:04d}"
        if ssn not in FAMOUS_FAKE_SSNS and len(set(ssn.replace("-", ""))) > 1:
            return ssn.replace("-", style)


def make_phone(r: random.Random) -> str:
    line = f"01{r.randint(0, 99):02d}"
    area = r.choice(["206", "312", "415", "503", "617", "713", "808"])
    return r.choice([f"+1-555-{line}", f"({area}) 555-{line}", f"+1 {area} 555 {line}", f"{area}.555.{line}",
                     f"07700 900{r.randint(0, 999):03d}", f"+44 20 7946 0{r.randint(0, 999):03d}"])


def make_card(r: random.Random) -> str:
    n = r.choice(TEST_CARDS)
    if len(n) == 15:
        return r.choice([n, f"{n[:4]} {n[4:10]} {n[10:]}"])
    return r.choice([n, " ".join(n[i:i + 4] for i in range(0, 16, 4)), "-".join(n[i:i + 4] for i in range(0, 16, 4))])


def make_dob(r: random.Random) -> str:
    y, m, d = r.randint(1960, 2003), r.randint(1, 12), r.randint(1, 28)
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    return r.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{months[m - 1]} {d}, {y}",
                     f"{d}.{m}.{y}", f"{d} {months[m - 1][:3]} {y}"])


def make_address(r: random.Random) -> str:
    if r.random() < 0.7:
        city, state, zip4 = r.choice(CITIES)
        unit = r.choice(["", f", Apt {r.randint(1, 40)}", f" #{r.randint(100, 999)}"])
        return f"{r.randint(3, 4999)} {r.choice(STREETS)}{unit}, {city}, {state} {zip4}{r.randint(0, 9)}"
    zipc, city = r.choice(EU_CITIES)
    return f"{r.choice(EU_STREETS)} {r.randint(1, 120)}, {zipc} {city}"


def make_secret(r: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    kind = r.choice(["sk_live", "ghp", "aws", "xoxb", "pwd", "jwt"])
    if kind == "sk_live":
        return "sk_live_" + "".join(r.choice(alnum) for _ in range(28))
    if kind == "ghp":
        return "ghp_" + "".join(r.choice(alnum) for _ in range(36))
    if kind == "aws":
        return "AKIA" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    if kind == "xoxb":
        return f"xoxb-{_digits(r, 11)}-{_digits(r, 12)}-" + "".join(r.choice(alnum) for _ in range(24))
    if kind == "pwd":
        return "".join(r.choice(alnum) for _ in range(6)) + r.choice("!#%&*") + _digits(r, 3)
    return "eyJhbGciOiJIUzI1NiJ9." + "".join(r.choice(alnum) for _ in range(30))


def person(r: random.Random) -> tuple[str, str]:
    first, last = r.choice(FIRST), r.choice(LAST)
    return f"{first} {last}", first


def email_of(name: str, r: random.Random) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.replace("ø", "o").replace("Ø", "O"))
    local = re.sub(r"[^a-z.-]", "", ascii_name.lower().replace(" ", "."))
    return f"{local}@{r.choice(['acme-corp.example', 'mailbox.example', 'partner-mail.example'])}"


def emp_id(r: random.Random) -> str:
    return f"EMP-{r.randint(10000, 11999)}"


SENSITIVE_TEMPLATES = {
    "email": [
        "Please send the contract to {name} at {email}.",
        "Add {email} to the payroll mailing list, it's {first}'s address.",
        "{first} changed her e-mail to {email}; update the HR record for {name}.",
        "draft a reminder to {email} about the unsigned timesheet",
    ],
    "phone": [
        "Call {name} on {phone} to confirm the interview slot.",
        "{name}'s mobile number is {phone}, put it on the emergency contact sheet.",
        "text {first} at {phone} that the on-call shift moved to Saturday",
        "Update the directory: {name}, phone {phone}.",
    ],
    "ssn": [
        "The SSN for {name} is {ssn}; check it against the I-9 form.",
        "Redact SSN {ssn} ({name}) from the benefits export before sharing.",
        "social security number {ssn} belongs to {first} - is it formatted correctly for the W-2?",
        "Background check request for {name}, SSN {ssn}, date of birth {dob}.",
    ],
    "iban": [
        "Change {name}'s salary account to IBAN {iban}.",
        "Pay the reimbursement of {eur} EUR to {iban} (account holder {name}).",
        "is {iban} a valid IBAN? It's for {first}'s relocation allowance",
        "New bank details for supplier contact {name}: {iban}. Please update before the next payment run.",
    ],
    "credit_card": [
        "My corporate card {card} was declined at the hotel, cardholder {name}.",
        "Refund the duplicate charge of ${usd} on card {card} for {name}.",
        "charge the training course to {card}, exp {exp}, name {name}",
        "Which network issued card number {card}? {first} used it for the offsite.",
    ],
    "salary": [
        "{name}'s base salary is ${salary}; draft the raise letter for a {pct}% increase.",
        "Is ${salary} within band for {name} at level L{level}?",
        "Tell {first} that the annual bonus will be ${bonus} this year.",
        "Compare {name} (${salary}) with the team median for a pay-equity review.",
    ],
    "health": [
        "{name} is on sick leave with {condition}; adjust the on-call rota.",
        "Draft a return-to-work plan for {first}, who is recovering from {condition}.",
        "{name} told HR about {condition} - what adjustments should the manager offer?",
        "log a medical absence for {name}: {condition}, {days} working days",
    ],
    "address": [
        "Ship {name}'s new laptop to {address}.",
        "{first} moved to {address}; update the payroll address.",
        "Send the welcome pack to {name}, {address}.",
        "What is the commute from {address} to Riverside Commons for {first}?",
    ],
    "dob": [
        "{name} was born on {dob}; add it to the benefits enrolment.",
        "DOB {dob} for {name} - calculate the retirement plan eligibility date.",
        "Enter date of birth {dob} in {first}'s insurance form.",
    ],
    "employee_id": [
        "{empid} ({name}) hasn't finished security training - send a reminder.",
        "Pull the leave balance for {name}, employee id {empid}.",
        "Revoke Vault-7 access for {empid} {name} effective today.",
        "Why does {empid} / {name} appear twice in the payroll run?",
    ],
    "codename": [
        "Prepare a one-page status update on {codename} for {first}.",
        "What is the budget for {codename} in FY2025 and who owns it?",
        "Summarise the risks in the {codename} memo for the board pack.",
        "Can {name} be added to the {codename} working group?",
    ],
    "marking": [
        "CONFIDENTIAL - {name}'s compensation change takes effect on 1 January. Rephrase this for the letter.",
        "INTERNAL ONLY: the board approved the budget for {codename}. Turn this into bullet points.",
        "This memo is marked RESTRICTED - DEAL TEAM ONLY. Summarise it for {first}.",
    ],
    "credential": [
        "Why does my request fail with this key: {secret}?",
        "Store this token in the config for {first}'s service: {secret}",
        "the password for the atlas reporting user is {secret}, write the connection string",
        "I accidentally pasted {secret} in the #eng-help channel, how do I rotate it?",
    ],
}

BENIGN_TEMPLATES = [
    ("benign_numbers", "What does HTTP error {code} mean when calling the payments API?"),
    ("benign_numbers", "We upgraded the client library from v{v1} to v{v2}; what usually breaks in such upgrades?"),
    ("benign_numbers", "Calculate {pct}% of {num}."),
    ("benign_numbers", "What is the fee on a ${amount} card payment at 2.6% plus $0.30?"),
    ("benign_numbers", "How many minutes of downtime per month does a {sla}% availability target allow?"),
    ("benign_numbers", "Convert {amount} EUR to USD at an exchange rate of 1.{fx}."),
    ("benign_engineering", "How do I configure a Beacon alert for {metric} on {system}?"),
    ("benign_engineering", "Explain how {system} is used by {product}."),
    ("benign_engineering", "Which team owns {system} and where is its runbook?"),
    ("benign_engineering", "Write a {lang} function that retries an HTTP call {n} times with exponential backoff."),
    ("benign_policy", "Summarise the {policy} in {n} bullet points."),
    ("benign_policy", "Where can I find the latest version of the {policy}?"),
    ("benign_product", "What are the main features of {product}?"),
    ("benign_product", "How much does {product} cost for a small merchant?"),
    ("benign_general", "Give me {n} tips for running a productive {meeting}."),
    ("benign_general", "Write a short, upbeat announcement for the {team}'s {event}."),
    ("benign_general", "Suggest a fun name for the {team}'s Slack channel about the {event}."),
    ("benign_general", "Write a checklist for preparing a {meeting} with a distributed {team}."),
    ("benign_numbers", "If a canary receives {pct}% of traffic, how many of {num} requests reach it?"),
    ("benign_numbers", "How many business days are there between 3 {month} and 28 {month} 2025?"),
    ("benign_engineering", "What does the {metric} panel in the {system} dashboard show?"),
    ("benign_engineering", "Explain exponential backoff with jitter and show a {lang} example."),
    ("benign_policy", "Does the {policy} apply to contractors as well as employees?"),
    ("benign_product", "Can {product} export reports as CSV or PDF?"),
]
SYSTEMS = ["Orion", "Atlas", "Beacon", "Vault-7"]
PRODUCTS = ["ACME Payments", "Ledger Sync", "Acme Insights"]
POLICIES = ["travel policy", "expense policy", "code of conduct", "remote work policy", "refund policy",
            "parental leave policy", "acceptable use policy"]
TEAMS = ["Platform Team", "Payments Team", "Data Team", "Security Team", "Finance team", "Legal team"]
EVENTS = ["hackathon", "quarterly planning", "offsite", "game day", "reliability review"]
MEETINGS = ["retrospective", "sprint planning", "incident review", "one-on-one", "design review"]
METRICS = ["disk usage", "replication lag", "error rate", "p99 latency", "certificate expiry"]


def build(seed: int, exclude: set[str]) -> list[dict]:
    r = random.Random(seed)
    rows, seen = [], set(exclude)

    def add(text: str, sensitive: bool, category: str) -> bool:
        key = re.sub(r"\s+", " ", text).strip().lower()
        if key in seen:
            return False
        seen.add(key)
        rows.append({"text": text, "sensitive": sensitive, "expected_route": "local" if sensitive else "server",
                     "category": category})
        return True

    categories = list(SENSITIVE_TEMPLATES)
    per_cat = {c: 0 for c in categories}
    target_sensitive, target_benign = 120, 60
    while sum(per_cat.values()) < target_sensitive:
        cat = categories[sum(per_cat.values()) % len(categories)]
        name, first = person(r)
        fields = {
            "name": name if r.random() > 0.1 else name.upper(), "first": first, "email": email_of(name, r),
            "phone": make_phone(r), "ssn": make_ssn(r, r.choice(["-", "-", " "])), "dob": make_dob(r),
            "iban": make_iban(r, r.choice(["DE", "FR", "GB", "NL", "ES", "IT"]), r.random() < 0.7),
            "eur": f"{r.randint(50, 4000)}.{r.randint(0, 99):02d}", "usd": f"{r.randint(20, 3000)}.{r.randint(0, 99):02d}",
            "card": make_card(r), "exp": f"{r.randint(1, 12):02d}/{r.randint(26, 30)}",
            "salary": f"{r.randint(60, 240) * 1000:,}", "pct": r.choice([3, 4, 5, 6, 8]), "level": r.randint(3, 6),
            "bonus": f"{r.randint(3, 40) * 1000:,}", "condition": r.choice(CONDITIONS), "days": r.randint(1, 15),
            "address": make_address(r), "empid": emp_id(r), "codename": r.choice(CODENAMES),
            "secret": make_secret(r),
        }
        text = r.choice(SENSITIVE_TEMPLATES[cat]).format(**fields)
        if add(text, True, cat):
            per_cat[cat] += 1
    n_benign = 0
    while n_benign < target_benign:
        cat, tpl = r.choice(BENIGN_TEMPLATES)
        v1 = f"{r.randint(1, 4)}.{r.randint(0, 9)}.{r.randint(0, 9)}"
        fields = {
            "code": r.choice([400, 401, 403, 404, 409, 422, 429, 500, 502, 503]), "v1": v1,
            "v2": f"{int(v1.split('.')[0]) + 1}.0.0", "pct": r.choice([5, 12.5, 18, 22, 35]),
            "num": f"{r.randint(1000, 99999):,}", "amount": r.randint(5, 2500), "sla": r.choice([99.0, 99.5, 99.9, 99.95, 99.99]),
            "fx": r.randint(2, 15), "metric": r.choice(METRICS), "system": r.choice(SYSTEMS), "product": r.choice(PRODUCTS),
            "lang": r.choice(["Python", "Go", "TypeScript", "Java"]), "n": r.randint(3, 7), "policy": r.choice(POLICIES),
            "meeting": r.choice(MEETINGS), "team": r.choice(TEAMS), "event": r.choice(EVENTS),
            "month": r.choice(["March", "May", "July", "October"]),
        }
        if add(tpl.format(**fields), False, cat):
            n_benign += 1
    r.shuffle(rows)
    for i, row in enumerate(rows, 1):
        row["id"] = f"g{i:03d}"
    return [{"id": row["id"], **{k: v for k, v in row.items() if k != "id"}} for row in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=20250106)
    ap.add_argument("--out", type=Path, default=DATA / "routing" / "generated.jsonl")
    args = ap.parse_args()
    exclude = set()
    hand = DATA / "routing" / "prompts.jsonl"
    if hand.exists():
        for line in hand.read_text(encoding="utf-8").splitlines():
            if line.strip():
                exclude.add(re.sub(r"\s+", " ", json.loads(line)["text"]).strip().lower())
    rows = build(args.seed, exclude)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    sens = sum(r["sensitive"] for r in rows)
    print(f"wrote {args.out} ({len(rows)} prompts: {sens} sensitive, {len(rows) - sens} benign)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Consistency checks for the held-out evaluation set in data/heldout/ (stdlib + PyYAML).

    python3 data/tools/validate_heldout.py          # exit code 1 on errors

Checks
* prompts.jsonl, prompts_b.jsonl ... prompts_k.jsonl and generated_presidio.jsonl: JSON per line, exact key set, id format,
  unique ids, types, allowed `kind`, `sensitive` == (kind != "benign"),
  `expected_route` == "local" for sensitive / "server" for benign, category naming
  (benign categories start with "benign_", sensitive ones do not), no duplicate texts
  (after collapsing whitespace and case) within and across the files.
* generated_presidio.jsonl: `entities` is a sorted list of unique strings and the label
  agrees with the rule in data/tools/generate_presidio_heldout.py (imported; the rule
  itself needs no third-party package).
* Leakage guard: no held-out prompt text equals (normalised) a text in
  data/routing/*.jsonl. Only held-out ids are printed, never the other files' texts.
* corpus/manifest.yaml: every corpus document resolves (documents -> first matching rule
  -> defaults) to groups and a classification; every document has 150-400 words and at
  least two context questions.
* context_questions.jsonl: exact key set, unique ids, `doc` exists in the corpus and is
  covered by the manifest, `groups` equals the groups the manifest gives the document.
Finally prints counts per kind and category.
"""
from __future__ import annotations

import collections
import importlib.util
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HELD = ROOT / "data" / "heldout"
PROMPTS = HELD / "prompts.jsonl"
# the later independent hand-written sets (second to eleventh writer): file and id pattern
EXTRA_SETS = tuple((HELD / f"prompts_{letter}.jsonl", rf"h{letter}\d{{3}}") for letter in "bcdefghijk")
GENERATED = HELD / "generated_presidio.jsonl"
CORPUS = HELD / "corpus"
MANIFEST = CORPUS / "manifest.yaml"
QUESTIONS = HELD / "context_questions.jsonl"
ROUTING = ROOT / "data" / "routing"
GEN_SCRIPT = ROOT / "data" / "tools" / "generate_presidio_heldout.py"

KINDS = {"identifier", "secret", "personal_matter", "address", "benign"}
PROMPT_KEYS = {"id", "text", "sensitive", "expected_route", "kind", "category"}
GENERATED_KEYS = PROMPT_KEYS | {"entities"}
QUESTION_KEYS = {"id", "question", "doc", "groups"}
CLASSIFICATIONS = ["public", "internal", "confidential", "restricted"]
MIN_WORDS, MAX_WORDS = 150, 400

errors: list[str] = []


def err(msg: str) -> None:
    errors.append(msg)


def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                err(f"{path.name}:{n}: empty line")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                err(f"{path.name}:{n}: invalid JSON ({e})")
                continue
            if not isinstance(obj, dict):
                err(f"{path.name}:{n}: not an object")
                continue
            obj["_line"] = n
            rows.append(obj)
    return rows


def check_prompt_rows(path: Path, rows: list[dict], keys: set, id_re: str) -> None:
    ids = collections.Counter(r.get("id") for r in rows)
    for i, n in ids.items():
        if n > 1:
            err(f"{path.name}: duplicate id {i!r} ({n}x)")
    texts: dict[str, str] = {}
    for r in rows:
        where = f"{path.name}:{r['_line']} ({r.get('id')})"
        got = set(r) - {"_line"}
        if got != keys:
            err(f"{where}: keys {sorted(got)} != {sorted(keys)}")
            continue
        if not isinstance(r["id"], str) or not re.fullmatch(id_re, r["id"]):
            err(f"{where}: bad id format (want {id_re})")
        if not isinstance(r["text"], str) or not r["text"].strip():
            err(f"{where}: empty text")
            continue
        if not isinstance(r["sensitive"], bool):
            err(f"{where}: sensitive must be a bool")
        if r["kind"] not in KINDS:
            err(f"{where}: unknown kind {r['kind']!r}")
        if r["sensitive"] != (r["kind"] != "benign"):
            err(f"{where}: sensitive={r['sensitive']} inconsistent with kind={r['kind']}")
        want_route = "local" if r["kind"] != "benign" else "server"
        if r["expected_route"] != want_route:
            err(f"{where}: expected_route {r['expected_route']!r} should be {want_route!r}")
        cat = r["category"]
        if not isinstance(cat, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", cat):
            err(f"{where}: bad category {cat!r}")
        elif (r["kind"] == "benign") != cat.startswith("benign_"):
            err(f"{where}: category {cat!r} does not fit kind {r['kind']!r}")
        t = norm(r["text"])
        if t in texts:
            err(f"{where}: duplicate text (same as {texts[t]})")
        else:
            texts[t] = r["id"]


def load_label_rule():
    spec = importlib.util.spec_from_file_location("generate_presidio_heldout", GEN_SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # top level is stdlib only; presidio is imported in main()
    return mod.label


def check_generated(rows: list[dict]) -> None:
    label = load_label_rule()
    for r in rows:
        if set(r) - {"_line"} != GENERATED_KEYS:
            continue  # already reported
        where = f"{GENERATED.name}:{r['_line']} ({r['id']})"
        ents = r["entities"]
        if not isinstance(ents, list) or not all(isinstance(e, str) for e in ents):
            err(f"{where}: entities must be a list of strings")
            continue
        if ents != sorted(set(ents)):
            err(f"{where}: entities not sorted/unique")
        kind, category = label(ents)
        if (r["kind"], r["category"]) != (kind, category):
            err(f"{where}: label ({r['kind']}, {r['category']}) != rule ({kind}, {category})")


def check_leakage(all_rows: list[dict]) -> int:
    """Count held-out texts that also occur in data/routing/**/*.jsonl (tuning sets included; prints held-out
    ids only). The generated tuning file is left out: a template without a placeholder gives the same
    sentence with every seed."""
    other = set()
    paths = sorted(ROUTING.rglob("*.jsonl")) if ROUTING.is_dir() else []
    for path in (p for p in paths if p.name != "generated_presidio.jsonl"):
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    t = json.loads(line).get("text")
                except (json.JSONDecodeError, AttributeError):
                    continue
                if isinstance(t, str):
                    other.add(norm(t))
    leaked = [r["id"] for r in all_rows if isinstance(r.get("text"), str) and norm(r["text"]) in other]
    for i in leaked:
        err(f"held-out row {i} has the same text as a row in data/routing/")
    return len(leaked)


def glob_to_regex(glob: str) -> re.Pattern:
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return re.compile(out + r"\Z")


def resolve(manifest: dict, rel: str) -> dict | None:
    docs = manifest.get("documents") or {}
    if rel in docs:
        return docs[rel]
    for rule in manifest.get("rules") or []:
        if glob_to_regex(rule["glob"]).match(rel):
            return rule
    return manifest.get("defaults")


def check_corpus_and_questions() -> tuple[dict, list[dict]]:
    access: dict[str, dict] = {}
    if not MANIFEST.is_file():
        err("corpus/manifest.yaml missing")
        return access, []
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8")) or {}
    for key in (manifest.get("documents") or {}):
        if not (CORPUS / key).is_file():
            err(f"manifest.yaml: documents entry {key!r} has no file")
    files = sorted(
        p for p in CORPUS.rglob("*") if p.is_file() and p.name != "manifest.yaml"
    )
    if len(files) != 10:
        err(f"corpus: expected 10 documents, found {len(files)}")
    for p in files:
        rel = p.relative_to(CORPUS).as_posix()
        entry = resolve(manifest, rel)
        if not entry or not entry.get("groups") or entry.get("classification") not in CLASSIFICATIONS:
            err(f"corpus/{rel}: not covered by manifest.yaml (no groups/classification)")
            continue
        access[rel] = {"groups": list(entry["groups"]), "classification": entry["classification"]}
        if p.suffix not in {".md", ".txt"}:
            err(f"corpus/{rel}: expected .md or .txt")
        words = len(p.read_text(encoding="utf-8").split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            err(f"corpus/{rel}: {words} words, want {MIN_WORDS}-{MAX_WORDS}")

    questions = read_jsonl(QUESTIONS) if QUESTIONS.is_file() else []
    if not questions:
        err("context_questions.jsonl missing or empty")
    ids = collections.Counter(q.get("id") for q in questions)
    for i, n in ids.items():
        if n > 1:
            err(f"{QUESTIONS.name}: duplicate id {i!r}")
    seen_q = set()
    per_doc = collections.Counter()
    for q in questions:
        where = f"{QUESTIONS.name}:{q['_line']} ({q.get('id')})"
        if set(q) - {"_line"} != QUESTION_KEYS:
            err(f"{where}: keys {sorted(set(q) - {'_line'})} != {sorted(QUESTION_KEYS)}")
            continue
        if not re.fullmatch(r"c\d{3}", str(q["id"])):
            err(f"{where}: bad id format")
        if not isinstance(q["question"], str) or not q["question"].strip():
            err(f"{where}: empty question")
        elif norm(q["question"]) in seen_q:
            err(f"{where}: duplicate question")
        else:
            seen_q.add(norm(q["question"]))
        if q["doc"] not in access:
            err(f"{where}: doc {q['doc']!r} is not a manifest-covered corpus document")
            continue
        per_doc[q["doc"]] += 1
        if sorted(q["groups"]) != sorted(access[q["doc"]]["groups"]):
            err(f"{where}: groups {q['groups']} != manifest groups {access[q['doc']]['groups']}")
    for rel in access:
        if per_doc[rel] < 2:
            err(f"corpus/{rel}: only {per_doc[rel]} context question(s), want >= 2")
    return access, questions


def print_counts(name: str, rows: list[dict]) -> None:
    kinds = collections.Counter(r.get("kind") for r in rows)
    cats = collections.Counter((r.get("kind"), r.get("category")) for r in rows)
    sens = sum(1 for r in rows if r.get("sensitive") is True)
    print(f"\n{name}: {len(rows)} rows ({sens} sensitive, {len(rows) - sens} benign)")
    for k in sorted(kinds, key=str):
        print(f"  {k}: {kinds[k]}")
        for (kk, c), n in sorted(cats.items(), key=lambda x: (str(x[0][0]), -x[1], str(x[0][1]))):
            if kk == k:
                print(f"      {c}: {n}")


def check_extra_set(path: Path, id_re: str, earlier: list[dict]) -> list[dict]:
    """Check an additional hand-written set like prompts.jsonl, plus no text repeated from `earlier`."""
    if not path.is_file():
        return []
    rows = read_jsonl(path)
    check_prompt_rows(path, rows, PROMPT_KEYS, id_re)
    seen = {norm(r["text"]): r["id"] for r in earlier if isinstance(r.get("text"), str)}
    for r in rows:
        if isinstance(r.get("text"), str) and norm(r["text"]) in seen:
            err(f"{r['id']} duplicates {seen[norm(r['text'])]}")
    return rows


def main() -> int:
    all_rows: list[dict] = []
    prompts = read_jsonl(PROMPTS) if PROMPTS.is_file() else []
    if not prompts:
        err("prompts.jsonl missing or empty")
    check_prompt_rows(PROMPTS, prompts, PROMPT_KEYS, r"h\d{3}")
    all_rows += prompts

    generated: list[dict] = []
    if GENERATED.is_file():
        generated = read_jsonl(GENERATED)
        check_prompt_rows(GENERATED, generated, GENERATED_KEYS, r"pe\d{4}")
        check_generated(generated)
        seen = {norm(r["text"]): r["id"] for r in prompts if isinstance(r.get("text"), str)}
        for r in generated:
            if isinstance(r.get("text"), str) and norm(r["text"]) in seen:
                err(f"{r['id']} duplicates {seen[norm(r['text'])]} in prompts.jsonl")
        all_rows += generated
    else:
        print("note: generated_presidio.jsonl not present (run generate_presidio_heldout.py)")

    extra = []
    for path, id_pattern in EXTRA_SETS:
        rows = check_extra_set(path, id_pattern, all_rows)
        all_rows += rows
        extra.append((path, rows))

    leaked = check_leakage(all_rows)
    access, questions = check_corpus_and_questions()

    print_counts("prompts.jsonl", prompts)
    if generated:
        print_counts("generated_presidio.jsonl", generated)
    for path, rows in extra:
        if rows:
            print_counts(path.name, rows)
    print(f"\ncorpus: {len(access)} documents covered by manifest.yaml; "
          f"context_questions.jsonl: {len(questions)} questions")
    print(f"leakage check against data/routing/*.jsonl: {leaked} shared texts")

    if errors:
        print(f"\n{len(errors)} error(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Build data/routing/tuning/generated_presidio.jsonl: a TUNING split from presidio-evaluator.

Same generator, label rule and schema as data/tools/generate_presidio_heldout.py (its
`label` and `make_deterministic` are reused unchanged), but with a different seed (4242,
never the held-out seed), fewer samples, ids prefixed `pt`, and every text that already
occurs in a data/routing/ file dropped, so that this split may be used to choose rules
and thresholds without touching the held-out set.

    .venv-pe/bin/python data/tools/generate_presidio_tuning.py
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_presidio_heldout as base  # noqa: E402

SEED = 4242
NUM_SAMPLES = 800
REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "data" / "routing" / "tuning" / "generated_presidio.jsonl"


def existing_texts(root: Path, out: Path) -> set[str]:
    """Every `text` of the JSONL files under data/routing/ except the output itself."""
    texts: set[str] = set()
    for path in sorted(root.rglob("*.jsonl")):
        if path.resolve() == out.resolve():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.add(json.loads(line).get("text", "").strip())
    return texts


def build_rows(samples, taken: set[str]) -> tuple[list[dict], collections.Counter]:
    """Label the faker samples; skip empty, repeated and already-used texts."""
    known = set(base.IDENTIFIER_TYPES) | set(base.ADDRESS_TYPES) | base.KNOWN_BENIGN_TYPES
    unknown: collections.Counter = collections.Counter()
    rows, seen = [], set(taken)
    for s in samples:
        text = (s.full_text or "").strip()
        if not text or text in seen:
            continue
        seen.add(text)
        entities = sorted({sp.entity_type for sp in (s.spans or [])})
        unknown.update(e for e in entities if e not in known)
        kind, category = base.label(entities)
        sensitive = kind != "benign"
        rows.append({"id": f"pt{len(rows) + 1:04d}", "text": text, "sensitive": sensitive,
                     "expected_route": "local" if sensitive else "server", "kind": kind,
                     "category": category, "entities": entities})
    return rows, unknown


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-samples", type=int, default=NUM_SAMPLES)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=SEED, help="another tuning split (never the held-out seed)")
    args = ap.parse_args()
    if args.seed == base.SEED:
        print(f"ERROR: seed {args.seed} is the held-out set's; pick another", file=sys.stderr)
        return 2

    base.SEED = args.seed  # make_deterministic seeds random/numpy from the module's SEED
    base.make_deterministic()
    from presidio_evaluator.data_generator import PresidioSentenceFaker

    faker = PresidioSentenceFaker(base.LOCALE, lower_case_ratio=base.LOWER_CASE_RATIO, random_seed=args.seed)
    samples = faker.generate_new_fake_sentences(num_samples=args.num_samples)
    rows, unknown = build_rows(samples, existing_texts(REPO / "data" / "routing", args.out))
    if unknown:
        print(f"ERROR: unclassified entity types {dict(unknown)}; add them to the rule lists", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds = collections.Counter(r["kind"] for r in rows)
    print(f"wrote {len(rows)} rows to {args.out} (requested {args.num_samples}, seed {args.seed})")
    for k, n in sorted(kinds.items()):
        print(f"  {k:12s} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

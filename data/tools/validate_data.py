#!/usr/bin/env python3
"""Consistency checks for the sample data under data/.

    python3 data/tools/validate_data.py            # exit code 1 on any error

Checks
  * every corpus file is covered by manifest.yaml and overrides point at real files;
  * eval files (evals/retrieval.jsonl, evals/multihop.jsonl): schema, unique ids,
    every ``relevant[].doc`` exists, every ``evidence`` is found inside ONE text
    block of the document's *visible* text (a line of a .md/.txt file, an HTML
    block element outside <script>/<style>/<head>, a text line of a PDF page, a
    DOCX paragraph), and ``groups`` equals the minimal group set computed from
    the manifest;
  * routing prompt files (routing/prompts.jsonl, routing/generated.jsonl):
    schema, unique ids, ``sensitive`` <-> ``expected_route`` consistency and no
    text shared between the two files.

Needs PyYAML for the manifest.  PDFs are read with pypdf when it is installed;
otherwise a small fallback reads the uncompressed streams written by
make_binary_docs.py.  Everything else is the standard library.
"""
from __future__ import annotations

import fnmatch
import json
import re
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

DATA = Path(__file__).resolve().parents[1]
CORPUS = DATA / "corpus"
GROUPS = ["all", "engineering", "hr", "finance", "legal", "executives"]
CLASSIFICATIONS = ["public", "internal", "confidential", "restricted"]
GROUP_PREFERENCE = ["engineering", "hr", "finance", "legal", "executives"]


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- manifest
def load_manifest() -> dict:
    import yaml  # PyYAML is a project dependency

    with open(CORPUS / "manifest.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _glob_match(path: str, pattern: str) -> bool:
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None


def resolve_access(manifest: dict, rel: str) -> dict:
    docs = manifest.get("documents") or {}
    if rel in docs:
        entry = dict(manifest["defaults"])
        entry.update(docs[rel])
        return entry
    for rule in manifest.get("rules") or []:
        if _glob_match(rel, rule["glob"]):
            return {"groups": rule["groups"], "classification": rule["classification"]}
    return dict(manifest["defaults"])


def required_groups(manifest: dict, docs: list[str]) -> list[str]:
    """Minimal set of groups such that a user holding all of them sees every doc."""
    need = [set(resolve_access(manifest, d)["groups"]) for d in docs]
    need = [g for g in need if "all" not in g]
    if not need:
        return ["all"]
    chosen: list[str] = []
    while need:
        best = max(GROUP_PREFERENCE, key=lambda g: (sum(g in s for s in need), -GROUP_PREFERENCE.index(g)))
        chosen.append(best)
        need = [s for s in need if best not in s]
    return chosen


# ---------------------------------------------------------------- text blocks
class _HTMLBlocks(HTMLParser):
    BLOCK = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "tr", "div", "section",
             "article", "header", "footer", "nav", "main", "ul", "ol", "table", "br", "body", "blockquote"}
    SKIP = {"script", "style", "head", "noscript", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.cur, self.skip = [], [], 0

    def _flush(self):
        text = norm("".join(self.cur))
        if text:
            self.blocks.append(text)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self._flush()

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self._flush()

    def handle_data(self, data):
        if not self.skip:
            self.cur.append(data)

    def close(self):
        super().close()
        self._flush()


def _pdf_lines(path: Path) -> list[str]:
    try:
        from pypdf import PdfReader
    except ImportError:
        raw = path.read_bytes()
        lines = []
        for m in re.finditer(rb"\((.*?)(?<!\\)\) Tj", raw):
            s = m.group(1).replace(b"\\(", b"(").replace(b"\\)", b")").replace(b"\\\\", b"\\")
            lines.append(s.decode("cp1252"))
        return lines
    reader = PdfReader(str(path))
    return [ln for page in reader.pages for ln in (page.extract_text() or "").splitlines()]


def _docx_paragraphs(path: Path) -> list[str]:
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(path) as zf:
        root = ElementTree.fromstring(zf.read("word/document.xml"))
    return ["".join(t.text or "" for t in p.iter(ns + "t")) for p in root.iter(ns + "p")]


def text_blocks(rel: str) -> list[str]:
    path = CORPUS / rel
    suffix = path.suffix.lower()
    if suffix in (".md", ".txt"):
        lines = path.read_text(encoding="utf-8").splitlines()
        return [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if suffix in (".html", ".htm"):
        parser = _HTMLBlocks()
        parser.feed(path.read_text(encoding="utf-8"))
        parser.close()
        return parser.blocks
    if suffix == ".pdf":
        return _pdf_lines(path)
    if suffix == ".docx":
        return _docx_paragraphs(path)
    raise ValueError(f"unsupported format: {rel}")


# ---------------------------------------------------------------- checks
def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{n}: invalid JSON: {exc}")
    return rows


def check_corpus(manifest: dict, errors: list[str]) -> list[str]:
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
                   if p.is_file() and p.name != "manifest.yaml")
    for rel in (manifest.get("documents") or {}):
        if not (CORPUS / rel).is_file():
            errors.append(f"manifest override for missing file {rel}")
    for rel in files:
        acc = resolve_access(manifest, rel)
        if not set(acc["groups"]) <= set(GROUPS):
            errors.append(f"{rel}: unknown group in {acc['groups']}")
        if acc["classification"] not in CLASSIFICATIONS:
            errors.append(f"{rel}: unknown classification {acc['classification']}")
    return files


def check_evals(manifest: dict, errors: list[str], warnings: list[str]) -> dict:
    stats = {}
    cache: dict[str, list[str]] = {}
    for name, hops in (("retrieval.jsonl", 1), ("multihop.jsonl", 2)):
        path = DATA / "evals" / name
        rows = read_jsonl(path)
        ids = [r.get("id") for r in rows]
        if len(ids) != len(set(ids)):
            errors.append(f"{name}: duplicate ids")
        for r in rows:
            rid = r.get("id")
            for key in ("id", "question", "answer", "relevant", "groups"):
                if key not in r:
                    errors.append(f"{name}:{rid}: missing {key}")
            if hops == 2 and not r.get("bridge"):
                errors.append(f"{name}:{rid}: missing bridge")
            rel = r.get("relevant", [])
            if len(rel) != hops:
                errors.append(f"{name}:{rid}: expected {hops} relevant entries, got {len(rel)}")
            if hops == 2 and len({x["doc"] for x in rel}) != 2:
                errors.append(f"{name}:{rid}: the two relevant docs must differ")
            for item in rel:
                doc, ev = item["doc"], item["evidence"]
                if not (CORPUS / doc).is_file():
                    errors.append(f"{name}:{rid}: missing doc {doc}")
                    continue
                if doc not in cache:
                    cache[doc] = text_blocks(doc)
                blocks = cache[doc]
                if not any(ev in b for b in blocks):
                    if any(norm(ev) in norm(b) for b in blocks):
                        warnings.append(f"{name}:{rid}: evidence matches {doc} only after whitespace normalisation")
                    else:
                        errors.append(f"{name}:{rid}: evidence not inside one text block of {doc}: {ev!r}")
                if len(ev.split()) < 4:
                    warnings.append(f"{name}:{rid}: short evidence {ev!r}")
            want = required_groups(manifest, [x["doc"] for x in rel])
            if r.get("groups") != want:
                errors.append(f"{name}:{rid}: groups {r.get('groups')} != computed {want}")
        stats[name] = len(rows)
    return stats


def check_prompts(errors: list[str]) -> dict:
    stats = {}
    texts: dict[str, str] = {}
    for name in ("prompts.jsonl", "generated.jsonl"):
        path = DATA / "routing" / name
        rows = read_jsonl(path)
        ids = [r.get("id") for r in rows]
        if len(ids) != len(set(ids)):
            errors.append(f"{name}: duplicate ids")
        for r in rows:
            for key, typ in (("id", str), ("text", str), ("sensitive", bool), ("expected_route", str), ("category", str)):
                if not isinstance(r.get(key), typ):
                    errors.append(f"{name}:{r.get('id')}: bad or missing {key}")
            if r.get("expected_route") != ("local" if r.get("sensitive") else "server"):
                errors.append(f"{name}:{r.get('id')}: sensitive/expected_route mismatch")
            key = norm(r.get("text", "")).lower()
            if key in texts:
                errors.append(f"{name}:{r.get('id')}: duplicate text (also {texts[key]})")
            texts[key] = f"{name}:{r.get('id')}"
        sens = sum(1 for r in rows if r.get("sensitive"))
        stats[name] = (len(rows), sens, len(rows) - sens)
    return stats


def main() -> int:
    errors: list[str] = []
    warnings: list[str] = []
    manifest = load_manifest()
    files = check_corpus(manifest, errors)
    eval_stats = check_evals(manifest, errors, warnings)
    prompt_stats = check_prompts(errors)
    by_fmt: dict[str, int] = {}
    for rel in files:
        key = rel.split("/")[0] + " " + Path(rel).suffix
        by_fmt[key] = by_fmt.get(key, 0) + 1
    print(f"corpus files: {len(files)}  " + ", ".join(f"{k}:{v}" for k, v in sorted(by_fmt.items())))
    print("evals:", eval_stats)
    print("prompts (total, sensitive, benign):", prompt_stats)
    for w in warnings:
        print("WARNING", w)
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

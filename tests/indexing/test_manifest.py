"""Manifest: defaults, first-match-wins glob rules, per-document overrides, field fall-through, errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexing.errors import ManifestError
from indexing.manifest import Access, Manifest, glob_regex
from indexing.types import Classification as C

MANIFEST = {
    "defaults": {"groups": ["all"], "classification": "internal"},
    "rules": [
        {"glob": "public/**", "groups": ["all"], "classification": "public"},
        {"glob": "hr/**", "groups": ["hr"], "classification": "confidential"},
        {"glob": "hr/reviews/*", "groups": ["nobody"]},  # never reached: hr/** matches first
        {"match": "**/*.pdf", "classification": "restricted"},
    ],
    "documents": {"hr/leave.md": {"groups": "all, hr"}},
}


@pytest.mark.parametrize("source, groups, level", [
    ("public/faq.md", ("all",), C.PUBLIC),
    ("public/deep/er/faq.md", ("all",), C.PUBLIC),
    ("hr/reviews/kwame.md", ("hr",), C.CONFIDENTIAL),
    ("hr/leave.md", ("all", "hr"), C.CONFIDENTIAL),       # groups from the document, level from its rule
    ("legal/nda.pdf", ("all",), C.RESTRICTED),            # level from the rule, groups from the defaults
    ("nda.pdf", ("all",), C.RESTRICTED),                  # "**/" also matches no folder
    ("engineering/runbook.md", ("all",), C.INTERNAL),     # defaults
])
def test_when_resolving_then_document_then_first_rule_then_defaults(source, groups, level) -> None:
    assert Manifest.from_dict(MANIFEST).resolve(source) == Access(groups, level)


@pytest.mark.parametrize("glob, source, matches", [
    ("hr/*", "hr/a.md", True),
    ("hr/*", "hr/sub/a.md", False),
    ("hr/**", "hr/sub/a.md", True),
    ("**/a.md", "a.md", True),
    ("*.md", "x/a.md", False),
    ("a?.md", "ab.md", True),
    ("a.md", "aXmd", False),
])
def test_glob_semantics(glob, source, matches) -> None:
    assert (glob_regex(glob).fullmatch(source) is not None) is matches


@pytest.mark.parametrize("data, words", [
    ({"rules": [{"groups": ["x"]}]}, "needs a `glob`"),
    ({"defaults": {"classification": "secret"}}, "unknown classification 'secret'"),
    ({"defaults": {"groups": [1, 2]}}, "groups must be a list"),
    ({"documents": {"a.md": "hr"}}, "expected a mapping"),
    (["not", "a", "mapping"], "expected a mapping"),
])
def test_when_manifest_is_malformed_then_error_names_the_entry(data, words) -> None:
    with pytest.raises(ManifestError, match=words):
        Manifest.from_dict(data)


def test_when_folder_has_manifest_yaml_then_find_loads_it(tmp_path: Path) -> None:
    assert Manifest.find(tmp_path) is None
    (tmp_path / "manifest.yaml").write_text("rules:\n  - {glob: 'hr/**', groups: [hr], classification: restricted}\n")
    assert Manifest.find(tmp_path).resolve("hr/x.md") == Access(("hr",), C.RESTRICTED)
    (tmp_path / "manifest.yaml").write_text("rules: [unclosed\n")
    with pytest.raises(ManifestError, match="fix the YAML"):
        Manifest.find(tmp_path)


def test_the_sample_corpus_manifest_parses() -> None:
    path = Path(__file__).resolve().parents[2] / "data" / "corpus" / "manifest.yaml"
    if not path.is_file():
        pytest.skip("data/corpus/manifest.yaml not written yet")
    manifest = Manifest.load(path)
    assert manifest.resolve("public/faq.md").classification == C.PUBLIC

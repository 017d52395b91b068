"""Manifest: who may read each document of a corpus and how sensitive it is declared to be.

A `manifest.yaml` at the root of an ingested folder:

```yaml
defaults:                      # for every file not matched below
  groups: [all]
  classification: internal
rules:                         # globs on the source path (relative to the folder), first match wins
  - glob: "public/**"          # `**` spans any number of folders, `*` and `?` stay within one
    groups: [all]
    classification: public
  - glob: "hr/**"
    groups: [hr]
    classification: confidential
documents:                     # per-file overrides, by source path
  hr/salary-review-2024-sofia-marchetti.txt:
    groups: [hr, finance]
    classification: restricted
```

Each entry may give `groups` (a list, or a comma-separated string), `classification` (public, internal,
confidential, restricted) or both; a field an entry leaves out comes from the next level (document ->
first matching rule -> defaults). A rule's glob may also be spelled `match` or `pattern`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from indexing.errors import ManifestError
from indexing.types import Classification

MANIFEST_NAMES = ("manifest.yaml", "manifest.yml")


@dataclass(frozen=True)
class Access:
    """Groups and declared classification; None where the manifest does not say."""

    groups: tuple[str, ...] | None = None
    classification: Classification | None = None

    def over(self, fallback: "Access") -> "Access":
        """This access with missing fields taken from `fallback`."""
        return Access(self.groups if self.groups is not None else fallback.groups,
                      self.classification if self.classification is not None else fallback.classification)


@dataclass(frozen=True)
class Manifest:
    """Parsed manifest: defaults, ordered glob rules and per-document overrides."""

    defaults: Access = Access()
    rules: tuple[tuple[str, Access], ...] = ()
    documents: dict[str, Access] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str) -> "Manifest":
        """Read and validate a manifest file.

        Raises:
            ManifestError: The file is not valid YAML or an entry is malformed (the message names it).
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ManifestError(f"{path}: cannot read the manifest ({exc}); fix the YAML") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "manifest") -> "Manifest":
        """Build from parsed YAML (see the module docstring for the format)."""
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: expected a mapping with defaults, rules, documents")
        rules = []
        for i, rule in enumerate(data.get("rules") or []):
            glob = rule.get("glob") or rule.get("match") or rule.get("pattern") if isinstance(rule, dict) else None
            if not glob:
                raise ManifestError(f"{where}: rules[{i}] needs a `glob`, e.g. glob: \"hr/**\"")
            rules.append((str(glob), _access(rule, f"{where}: rules[{i}]")))
        documents = data.get("documents") or {}
        if isinstance(documents, list):  # also accept a list of {path: ..., groups: ..., classification: ...}
            documents = {str(d.get("path") or d.get("source")): d for d in documents if isinstance(d, dict)}
        return cls(defaults=_access(data.get("defaults") or {}, f"{where}: defaults"), rules=tuple(rules),
                   documents={str(k): _access(v, f"{where}: documents[{k}]") for k, v in documents.items()})

    @classmethod
    def find(cls, folder: Path) -> "Manifest | None":
        """The manifest at the root of `folder`, if there is one."""
        for name in MANIFEST_NAMES:
            if (folder / name).is_file():
                return cls.load(folder / name)
        return None

    def resolve(self, source: str) -> Access:
        """The access for a document's source path (fields may be None where nothing says)."""
        access = self.documents.get(source, Access())
        for glob, rule in self.rules:
            if _matches(source, glob):
                access = access.over(rule)
                break
        return access.over(self.defaults)


def _matches(source: str, glob: str) -> bool:
    return glob_regex(glob).fullmatch(source) is not None


@lru_cache(maxsize=256)
def glob_regex(glob: str) -> re.Pattern[str]:
    """Compile a path glob: `**` spans any number of folders (also none), `*` and `?` stay in one segment."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def _access(entry: object, where: str) -> Access:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: expected a mapping with groups and/or classification")
    groups = entry.get("groups")
    if isinstance(groups, str):
        groups = [g for g in groups.split(",")]
    if groups is not None:
        if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
            raise ManifestError(f"{where}: groups must be a list of names, e.g. [hr, finance]")
        groups = tuple(g.strip() for g in groups)
    level = entry.get("classification")
    try:
        classification = None if level is None else Classification.parse(level)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    return Access(groups, classification)

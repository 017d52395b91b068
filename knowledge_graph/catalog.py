"""Entity normalisation and the domain catalogue (entities, aliases, id patterns) declared in YAML.

`normalize_key` turns any surface form into a node key (case, whitespace, possessives, leading articles);
`EntityCatalog.resolve` then maps alias keys to the canonical entity's key, so "ACME Payments" and
"Payments Service" end up as one node.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_CATALOG_PATH = Path(__file__).with_name("entities.yaml")

_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|our|their|its)\s+")
_EDGE_PUNCT = " \t\n\"'“”‘’`.,;:!?()[]{}<>*_#-–—/\\|"


def normalize_key(text: str) -> str:
    """Return the node key of a surface form: NFKC, lower case, single spaces, no possessive or leading article.

    Example: ``normalize_key("  The Platform  Team's ")`` -> ``"platform team"``.
    """
    key = unicodedata.normalize("NFKC", text).strip(_EDGE_PUNCT)
    key = " ".join(key.split()).lower()
    key = _POSSESSIVE.sub("", key).strip(_EDGE_PUNCT)
    key = _LEADING_ARTICLE.sub("", key)
    return key


@dataclass(frozen=True)
class CatalogEntity:
    """One declared domain entity with the surface forms that name it."""

    name: str
    type: str
    aliases: tuple[str, ...] = ()
    match_case: bool = False
    description: str = ""

    @property
    def key(self) -> str:
        return normalize_key(self.name)

    @property
    def surface_forms(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class IdPattern:
    """A regular expression whose matches are identifier entities of `type` (e.g. employee ids)."""

    type: str
    regex: re.Pattern[str]


@dataclass
class EntityCatalog:
    """The declared domain: entities with aliases, id patterns, sensitive types and ignored forms.

    Args:
        entities: Declared entities (several entries may share a canonical name, e.g. to vary `match_case`).
        patterns: Identifier patterns matched on raw text.
        sensitive_types: Entity types whose nodes take the highest label of their chunks (PERSON, ids).
        ignore: Normalised keys never turned into nodes.
        type_hints: Question word (lower case) -> entity type the question asks about ("team" -> TEAM).
    """

    entities: list[CatalogEntity] = field(default_factory=list)
    patterns: list[IdPattern] = field(default_factory=list)
    sensitive_types: frozenset[str] = frozenset({"PERSON"})
    ignore: frozenset[str] = frozenset()
    type_hints: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._alias_to_key: dict[str, str] = {}
        self._names: dict[str, CatalogEntity] = {}
        for entity in self.entities:
            self._names.setdefault(entity.key, entity)
            for form in entity.surface_forms:
                self._alias_to_key[normalize_key(form)] = entity.key

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> "EntityCatalog":
        """Load a catalogue file (default: the packaged `entities.yaml`); raise ValueError naming a bad entry."""
        path = Path(path) if path is not None else DEFAULT_CATALOG_PATH
        if not path.is_file():
            raise FileNotFoundError(f"entity catalogue {path} not found; pass an existing YAML file "
                                    f"or omit it to use {DEFAULT_CATALOG_PATH}")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: dict, origin: str = "<dict>") -> "EntityCatalog":
        """Build a catalogue from the parsed YAML structure (see `entities.yaml` for the format)."""
        entities = []
        for i, item in enumerate(data.get("entities") or []):
            if not isinstance(item, dict) or not item.get("name") or not item.get("type"):
                raise ValueError(f"{origin}: entities[{i}] needs a `name` and a `type`, got {item!r}")
            entities.append(CatalogEntity(
                name=str(item["name"]), type=str(item["type"]).upper(),
                aliases=tuple(str(a) for a in item.get("aliases") or ()),
                match_case=bool(item.get("match_case", False)), description=str(item.get("description", ""))))
        patterns = []
        for i, item in enumerate(data.get("patterns") or []):
            try:
                patterns.append(IdPattern(type=str(item["type"]).upper(), regex=re.compile(item["regex"])))
            except (KeyError, TypeError, re.error) as exc:
                raise ValueError(f"{origin}: patterns[{i}] needs `type` and a valid `regex`: {exc}") from None
        sensitive = frozenset(str(t).upper() for t in data.get("sensitive_types") or ["PERSON"])
        ignore = frozenset(normalize_key(str(s)) for s in data.get("ignore") or [])
        hints = {str(k).lower(): str(v).upper() for k, v in (data.get("type_hints") or {}).items()}
        return cls(entities=entities, patterns=patterns, sensitive_types=sensitive, ignore=ignore, type_hints=hints)

    def resolve(self, surface: str) -> str:
        """Return the node key for a surface form: the canonical entity's key when it is a known alias."""
        key = normalize_key(surface)
        return self._alias_to_key.get(key, key)

    def canonical(self, key: str) -> CatalogEntity | None:
        """Return the declared entity whose canonical key is `key`, if any."""
        return self._names.get(key)

    def hinted_types(self, words: Iterable[str]) -> set[str]:
        """Entity types hinted at by these (lower-case) question words."""
        return {self.type_hints[w] for w in words if w in self.type_hints}

    def is_ignored(self, key: str) -> bool:
        """True when `key` (already resolved) must not become a node."""
        return key in self.ignore or not key

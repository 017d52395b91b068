"""The model registry: which model files the service runs, with versions and content hashes.

`models.yaml` at the repository root lists each model the service uses — name, role (``local``,
``server``, ``embedding``, ``spacy``), where it lives (``path``: a file or folder, relative to the
repository or ``pkg:MODULE/rel/path`` inside an installed package; or ``url`` for a served model)
and a version. At start-up the API computes the SHA-256 of every local file or folder (cached by
mtime and size, so restarts are fast) and shows the entries in ``/v1/models``, ``/readyz`` and, for
the model that answered, in every audit record.

Deploying and rolling back: the registry decides which models load. Point an entry at a new file
(and bump its version), restart the service, and check the hash shown by ``/readyz``; to roll back,
restore the previous entry (``git revert`` of models.yaml) and restart. An explicitly set setting
(``RAG_LLAMA_MODEL_PATH``, ``RAG_EMBEDDING_MODEL_PATH``, ``RAG_SPACY_MODEL``, ``RAG_VLLM_MODEL``,
``RAG_VLLM_URL``) still wins over the file, and the entry then says ``source: settings``.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from rag.config import REPO_ROOT, Settings
from routing.backends.llama_cpp import file_sha256

logger = logging.getLogger(__name__)

ROLES = ("local", "server", "embedding", "spacy")
# role -> (settings field holding the location, whether that field is a path or a name)
_SETTINGS_FIELDS = {"local": "llama_model_path", "embedding": "embedding_model_path",
                    "spacy": "spacy_model", "server": "vllm_model"}


class RegistryError(ValueError):
    """models.yaml is malformed or names something that cannot be found."""


@dataclass(frozen=True)
class ModelEntry:
    """One model: what it is, where it is, which version, and (for local files) its SHA-256."""

    name: str
    role: str
    version: str
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    source: str = "registry"

    def info(self) -> dict[str, Any]:
        """The entry as plain JSON-able values (for /v1/models, /readyz and the audit)."""
        return asdict(self)


def resolve_location(location: str, base: Path = REPO_ROOT) -> Path:
    """A registry location as a path: ``pkg:MODULE/rel`` inside an installed package, else relative to `base`.

    Raises:
        RegistryError: the package is not installed.
    """
    if location.startswith("pkg:"):
        module, _, rel = location[4:].partition("/")
        spec = importlib.util.find_spec(module)  # locates without importing (no heavy side effects)
        if spec is None or not spec.submodule_search_locations:
            raise RegistryError(f"package {module!r} named in models.yaml is not installed; pip install it")
        return Path(list(spec.submodule_search_locations)[0]) / rel
    path = Path(location).expanduser()
    return path if path.is_absolute() else base / path


class ModelRegistry:
    """The models of one service instance (see the module docstring for the rollback procedure)."""

    def __init__(self, entries: Iterable[ModelEntry]) -> None:
        self.entries = list(entries)

    @classmethod
    def load(cls, path: Path) -> "ModelRegistry":
        """Read models.yaml; a missing file gives an empty registry (settings alone decide)."""
        if not Path(path).exists():
            logger.warning("model registry %s not found; models come from settings only", path)
            return cls([])
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        entries = []
        for i, item in enumerate(raw.get("models", [])):
            if not isinstance(item, dict) or not item.get("name") or item.get("role") not in ROLES:
                raise RegistryError(f"{path}: entry {i} needs a name and a role among {', '.join(ROLES)}")
            location = item.get("path")
            resolved = str(resolve_location(location)) if location else None
            version = str(item.get("version") or _package_version(item.get("package")) or "unknown")
            entries.append(ModelEntry(name=str(item["name"]), role=item["role"], version=version,
                                      path=resolved, url=item.get("url")))
        return cls(entries)

    def for_role(self, role: str) -> ModelEntry | None:
        """The entry of `role`, or None."""
        return next((e for e in self.entries if e.role == role), None)

    def apply_to(self, settings: Settings) -> Settings:
        """Settings where every model field not set explicitly comes from the registry.

        Returns a new Settings; fields set explicitly (environment, arguments) keep their value.
        """
        explicit = settings.model_fields_set
        updates: dict[str, Any] = {}
        for entry in self.entries:
            field = _SETTINGS_FIELDS[entry.role]
            if field in explicit:
                continue
            if entry.role in ("local", "embedding") and entry.path:
                updates[field] = Path(entry.path)
            elif entry.role in ("spacy", "server"):
                updates[field] = entry.name
            if entry.role == "server" and entry.url and "vllm_url" not in explicit:
                updates["vllm_url"] = entry.url
            if entry.role == "server" and entry.path and "vllm_model_dir" not in explicit:
                updates["vllm_model_dir"] = Path(entry.path)
        return settings.model_copy(update=updates) if updates else settings

    def reconcile(self, settings: Settings) -> "ModelRegistry":
        """The registry as actually used with `settings`: explicit settings override entries."""
        entries = []
        for entry in self.entries:
            field = _SETTINGS_FIELDS[entry.role]
            if field in settings.model_fields_set and getattr(settings, field) is not None:
                value = getattr(settings, field)
                if entry.role in ("local", "embedding"):
                    entry = replace(entry, path=str(value), version="unknown", source="settings")
                else:
                    entry = replace(entry, name=str(value), source="settings")
            if entry.role == "server" and "vllm_url" in settings.model_fields_set:
                entry = replace(entry, url=settings.vllm_url)
            entries.append(entry)
        return ModelRegistry(entries)

    def with_hashes(self, cache_path: Path | None = None) -> "ModelRegistry":
        """A copy with the SHA-256 of every local file or folder (cached by mtime+size in `cache_path`)."""
        cache = _HashCache(cache_path)
        entries = [replace(e, sha256=cache.sha256(Path(e.path))) if e.path and Path(e.path).exists() else e
                   for e in self.entries]
        cache.save()
        return ModelRegistry(entries)

    def describe(self) -> list[dict[str, Any]]:
        """All entries as plain dicts."""
        return [e.info() for e in self.entries]

    def model_info(self, route: str | None) -> dict[str, Any]:
        """Name, version and hash of the model that serves `route` ("local" or "server"), for the audit."""
        entry = self.for_role(route) if route else None
        return {"name": entry.name, "version": entry.version, "sha256": entry.sha256} if entry else {}


def _package_version(package: str | None) -> str | None:
    if not package:
        return None
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _stat_key(path: Path) -> str:
    files = [path] if path.is_file() else _files(path)
    stats = [p.stat() for p in files]
    return f"{len(files)}:{sum(s.st_size for s in stats)}:{max((s.st_mtime_ns for s in stats), default=0)}"


def tree_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder as the hash of its sorted (relative path, file hash) lines."""
    if path.is_file():
        return file_sha256(path)
    lines = [f"{p.relative_to(path).as_posix()} {file_sha256(p)}" for p in _files(path)]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


class _HashCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, dict[str, str]] = {}
        if path and path.exists():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.data = {}

    def sha256(self, path: Path) -> str:
        key, stat = str(path.resolve()), _stat_key(path)
        cached = self.data.get(key)
        if cached and cached.get("stat") == stat:
            return cached["sha256"]
        digest = tree_sha256(path)
        self.data[key] = {"stat": stat, "sha256": digest}
        return digest

    def save(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")

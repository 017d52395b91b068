"""The model registry: which model files the service runs, with versions and content hashes.

`models.yaml` at the repository root lists each model the service uses — name, role (``local``,
``server``, ``embedding``, ``spacy``, ``classifier_embedding``), where it lives (``path``: a file or folder, relative to the
repository or ``pkg:MODULE/rel/path`` inside an installed package; or ``url`` for a served model)
and a version. At start-up the API computes the SHA-256 of every local file or folder (cached by
mtime and size, so restarts are fast) and shows the entries in ``/v1/models``, ``/readyz`` and, for
the model that answered, in every audit record.

Profiles: every entry may name the ``profiles`` it belongs to (none: every profile). The active
profile is ``RAG_MODEL_PROFILE`` when set, else the one recorded by ``rag models use PROFILE`` in
``RAG_HOME/model-profile``, else the file's ``default_profile``. `resolve_settings` applies it; every
entry point (CLI via ``rag.cli.common.settings``, the API factory) calls it. Entries may point at an
``artifact`` (a file joined from PyPI parts, see `rag.model_files`): its pinned size and sha256 then
reach the settings, and the backends refuse a file that differs.

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
from rag.model_files import Artifact
from routing.backends.llama_cpp import file_sha256

logger = logging.getLogger(__name__)

ROLES = ("local", "server", "embedding", "spacy", "classifier_embedding")
ARTIFACTS_DIR = REPO_ROOT / ".cache" / "models"
PROFILE_FILE = "model-profile"
# role -> (settings field holding the location, whether that field is a path or a name)
_SETTINGS_FIELDS = {"local": "llama_model_path", "embedding": "embedding_model_path",
                    "spacy": "spacy_model", "server": "vllm_model",
                    "classifier_embedding": "classifier_embedding_model_path"}
_PATH_ROLES = ("local", "embedding", "classifier_embedding")


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
    artifact: str | None = None
    source_artifact: str | None = None
    max_new_tokens: int | None = None
    max_passages: int | None = None
    pinned_sha256: str | None = None

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

    def __init__(self, entries: Iterable[ModelEntry], *, profile: str | None = None,
                 profiles: Iterable[str] = (), artifacts: dict[str, Artifact] | None = None) -> None:
        self.entries = list(entries)
        self.profile = profile
        self.profiles = tuple(profiles)
        self.artifacts = dict(artifacts or {})

    @classmethod
    def load(cls, path: Path, profile: str | None = None) -> "ModelRegistry":
        """Read models.yaml with the entries of `profile` (default: the file's ``default_profile``).

        A missing file gives an empty registry (settings alone decide).

        Raises:
            RegistryError: malformed file, or a profile the file does not define.
        """
        if not Path(path).exists():
            logger.warning("model registry %s not found; models come from settings only", path)
            return cls([], profile=profile)
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        items = raw.get("models", [])
        known = sorted({p for item in items if isinstance(item, dict) for p in item.get("profiles") or ()})
        profile = profile or raw.get("default_profile") or (known[0] if known else None)
        if known and profile not in known:
            raise RegistryError(f"unknown model profile {profile!r}: use one of {', '.join(known)} "
                                "(RAG_MODEL_PROFILE or `rag models use`)")
        entries = [_entry(path, i, item) for i, item in enumerate(items)
                   if not isinstance(item, dict) or not item.get("profiles") or profile in item["profiles"]]
        artifacts = {name: Artifact.from_yaml(name, spec, REPO_ROOT)
                     for name, spec in (raw.get("artifacts") or {}).items()}
        for entry in entries:
            for ref in (entry.artifact, entry.source_artifact):
                if ref and ref not in artifacts:
                    raise RegistryError(f"{path}: {entry.name} names artifact {ref!r}, which `artifacts` lacks")
        return cls(entries, profile=profile, profiles=known, artifacts=artifacts)

    def needed_artifacts(self) -> list[Artifact]:
        """The artifacts the profile's entries load (local GGUF, the server's conversion source)."""
        names = [n for e in self.entries for n in (e.artifact, e.source_artifact) if n]
        return [self.artifacts[n] for n in dict.fromkeys(names)]

    def for_role(self, role: str) -> ModelEntry | None:
        """The entry of `role`, or None."""
        return next((e for e in self.entries if e.role == role), None)

    def apply_to(self, settings: Settings) -> Settings:
        """Settings where every model field not set explicitly comes from the registry.

        Returns a new Settings; fields set explicitly (environment, arguments) keep their value.
        """
        explicit = set(settings.model_fields_set)
        updates: dict[str, Any] = {}
        budgets = [e.max_new_tokens for e in self.entries if e.max_new_tokens]
        if budgets and "max_new_tokens" not in explicit:
            updates["max_new_tokens"] = min(budgets)
        for entry in self.entries:  # passages per route: decoding.max_passages of the route's model
            cap = f"{entry.role}_max_passages"
            if entry.role in ("local", "server") and cap not in explicit:
                updates[cap] = entry.max_passages
        for entry in self.entries:
            field = _SETTINGS_FIELDS[entry.role]
            if field in explicit:
                continue
            updates.update(self._pins(entry, explicit))
            if entry.role in _PATH_ROLES and entry.path:
                updates[field] = Path(entry.path)
            elif entry.role in ("spacy", "server"):
                updates[field] = entry.name
            if entry.role == "server" and entry.url and "vllm_url" not in explicit:
                updates["vllm_url"] = entry.url
            if entry.role == "server" and entry.path and "vllm_model_dir" not in explicit:
                updates["vllm_model_dir"] = Path(entry.path)
        if not updates:
            return settings
        applied = settings.model_copy(update=updates)
        # registry values are not explicit settings: applying twice (CLI, then the API factory) is a no-op
        object.__setattr__(applied, "__pydantic_fields_set__", explicit)
        return applied

    def _pins(self, entry: ModelEntry, explicit: set[str]) -> dict[str, Any]:
        """Settings that pin an entry's artifact: the local GGUF's size+sha256, the server's source GGUF.

        An entry without an artifact clears them, so switching profiles never keeps another model's pins."""
        if entry.role == "classifier_embedding":
            return {"classifier_embedding_sha256": entry.pinned_sha256}
        if entry.role == "local":
            art = self.artifacts.get(entry.artifact or "")
            return {"llama_model_size": art.size if art else None, "llama_model_sha256": art.sha256 if art else None}
        if entry.role == "server" and "vllm_source_gguf" not in explicit:
            art = self.artifacts.get(entry.source_artifact or "")
            return {"vllm_source_gguf": ARTIFACTS_DIR / art.name if art else None,
                    "vllm_source_sha256": art.sha256 if art else None}
        return {}

    def reconcile(self, settings: Settings) -> "ModelRegistry":
        """The registry as actually used with `settings`: explicit settings override entries."""
        entries = []
        for entry in self.entries:
            field = _SETTINGS_FIELDS[entry.role]
            if field in settings.model_fields_set and getattr(settings, field) is not None:
                value = getattr(settings, field)
                if entry.role in _PATH_ROLES:
                    entry = replace(entry, path=str(value), version="unknown", source="settings")
                else:
                    entry = replace(entry, name=str(value), source="settings")
            if entry.role == "server" and "vllm_url" in settings.model_fields_set:
                entry = replace(entry, url=settings.vllm_url)
            entries.append(entry)
        return ModelRegistry(entries, profile=self.profile, profiles=self.profiles, artifacts=self.artifacts)

    def with_hashes(self, cache_path: Path | None = None) -> "ModelRegistry":
        """A copy with the SHA-256 of every local file or folder (cached by mtime+size in `cache_path`)."""
        cache = _HashCache(cache_path)
        entries = [replace(e, sha256=cache.sha256(Path(e.path))) if e.path and Path(e.path).exists() else e
                   for e in self.entries]
        cache.save()
        return ModelRegistry(entries, profile=self.profile, profiles=self.profiles, artifacts=self.artifacts)

    def describe(self) -> list[dict[str, Any]]:
        """All entries as plain dicts."""
        return [e.info() for e in self.entries]

    def model_info(self, route: str | None) -> dict[str, Any]:
        """Name, version and hash of the model that serves `route` ("local" or "server"), for the audit."""
        entry = self.for_role(route) if route else None
        return {"name": entry.name, "version": entry.version, "sha256": entry.sha256} if entry else {}


def _entry(path: Path, i: int, item: Any) -> ModelEntry:
    if not isinstance(item, dict) or not item.get("name") or item.get("role") not in ROLES:
        raise RegistryError(f"{path}: entry {i} needs a name and a role among {', '.join(ROLES)}")
    location = item.get("path")
    resolved = str(resolve_location(location)) if location else None
    version = str(item.get("version") or _package_version(item.get("package")) or "unknown")
    decoding = item.get("decoding") or {}
    return ModelEntry(name=str(item["name"]), role=item["role"], version=version, path=resolved, url=item.get("url"),
                      artifact=item.get("artifact"), source_artifact=item.get("source"),
                      pinned_sha256=str(item["sha256"]) if item.get("sha256") else None,
                      max_new_tokens=int(decoding["max_new_tokens"]) if decoding.get("max_new_tokens") else None,
                      max_passages=int(decoding["max_passages"]) if decoding.get("max_passages") else None)


def active_profile(settings: Settings) -> str | None:
    """The profile in force: RAG_MODEL_PROFILE, else the one `rag models use` recorded in RAG_HOME, else None."""
    if settings.model_profile:
        return settings.model_profile
    try:
        chosen = (Path(settings.home) / PROFILE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return chosen or None


def resolve_settings(settings: Settings) -> Settings:
    """`settings` with the active profile's model locations, pins and decoding applied.

    Raises:
        RegistryError: models.yaml is malformed or names an unknown profile.
    """
    return ModelRegistry.load(settings.models_registry_path, active_profile(settings)).apply_to(settings)


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

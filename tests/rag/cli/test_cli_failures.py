"""Every `rag` command turns an expected failure into one line and an exit code, never a traceback.

One case per command (the table must name every command of the `rag` group), through click's
CliRunner against a throw-away RAG_HOME; no model is loaded: the failures are a missing embedding model
folder, a bad setting, an unknown user or document, a missing file, a server that does not answer.
"""
from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from indexing.errors import EmbedderError, ManifestError, StoreError, UnsupportedFileType
from rag.cli import RagGroup, cli, common
from rag.config import Settings
from rag.errors import NotFound
from routing.errors import BackendUnavailable, SensitiveBackendDown

NO_MODEL = {"RAG_EMBEDDING_MODEL_PATH": "{tmp}/no-such-model"}

# command path -> (arguments, environment, exit code, words in the one error line)
CASES: dict[str, tuple[list[str], dict[str, str], int, str]] = {
    "ingest": (["{tmp}/doc.md"], NO_MODEL, 1, "embedding model folder"),
    "docs list": ([], NO_MODEL, 1, "embedding model folder"),
    "docs show": (["policy.md"], NO_MODEL, 1, "embedding model folder"),
    "docs delete": (["policy.md"], NO_MODEL, 1, "embedding model folder"),
    "docs stats": ([], NO_MODEL, 1, "embedding model folder"),
    "detect train-personal-matters": (["--data", "{tmp}/missing.jsonl"], {}, 2, "missing.jsonl not found"),
    "detect train-credentials": (["--data", "{tmp}/missing.jsonl"], {}, 2, "missing.jsonl"),
    "index status": ([], NO_MODEL, 1, "embedding model folder"),
    "index relabel": ([], NO_MODEL, 1, "embedding model folder"),
    "search": (["refund", "--user", "ghost"], {}, 2, "no user named 'ghost'"),
    "route": (["hello"], {"RAG_DETECTION_TIMEOUT_S": "soon"}, 2, "bad configuration: RAG_DETECTION_TIMEOUT_S"),
    "ask": (["What is the refund window?"], {"RAG_TOP_K": "many"}, 2, "bad configuration: RAG_TOP_K"),
    "graph stats": ([], NO_MODEL, 1, "embedding model folder"),
    "graph entity": (["Orion"], NO_MODEL, 1, "embedding model folder"),
    "graph export": ([], NO_MODEL, 1, "embedding model folder"),
    "graph search": (["Who owns Orion?", "--groups", "all"], NO_MODEL, 1, "embedding model folder"),
    "graph rebuild": ([], NO_MODEL, 1, "embedding model folder"),
    "serve": ([], {"RAG_PORT": "http"}, 2, "bad configuration: RAG_PORT"),
    "users add": (["ana", "--groups", "hr finance!"], {}, 2, "bad group name"),
    "users list": ([], {"RAG_MAX_QUESTION_CHARS": "lots"}, 2, "bad configuration: RAG_MAX_QUESTION_CHARS"),
    "users remove": (["ghost"], {}, 1, "no user named 'ghost'"),
    "users revoke": (["ghost"], {}, 1, "no user named 'ghost'"),
    "users rotate": (["ghost"], {}, 1, "no user named 'ghost'"),
    "users expire": (["ghost"], {}, 1, "no user named 'ghost'"),
    "users limits": (["ghost", "--rpm", "5"], {}, 1, "no user named 'ghost'"),
    "audit verify": ([], {}, 1, "no audit log"),
    "audit tail": ([], {}, 1, "no audit log"),
    "audit anchor": ([], {}, 1, "no audit log"),
    "audit report": ([], {}, 1, "no audit log"),
    "audit prune": ([], {}, 1, "no audit log"),
    "vllm start": ([], {"RAG_VLLM_VENV": "{tmp}/no-venv"}, 1, "vLLM venv not found"),
    "vllm stop": ([], {"RAG_VLLM_PORT": "eighty"}, 2, "bad configuration: RAG_VLLM_PORT"),
    "vllm status": ([], {"RAG_VLLM_PORT": "9"}, 1, "not running"),
    "vllm logs": ([], {}, 1, "no log at"),
    "models list": ([], {"RAG_MODEL_PROFILE": "nope"}, 2, "unknown model profile 'nope'"),
    "models fetch": ([], {"RAG_MODEL_PROFILE": "nope"}, 2, "unknown model profile 'nope'"),
    "models use": (["nope"], {}, 2, "unknown model profile 'nope'"),
    "models verify": ([], {"RAG_MODEL_PROFILE": "nope"}, 2, "unknown model profile 'nope'"),
    "eval": (["--dataset", "{tmp}/missing.json"], {}, 2, "missing.json"),
    "bench ingest": ([], NO_MODEL, 1, "embedding model folder"),
    "bench generate": (["--only", "server", "--no-start"], {"RAG_VLLM_URL": "http://127.0.0.1:9/v1"}, 1,
                       "no vLLM server answers"),
    "bench query": (["--sizes", "1k,10k"], {}, 2, "--sizes must be integers"),
    "bench serve": ([], {"RAG_LOCAL_QUEUE_DEPTH": "deep"}, 2, "bad configuration: RAG_LOCAL_QUEUE_DEPTH"),
}


def leaf_commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        names += leaf_commands(command, f"{path} ") if isinstance(command, click.Group) else [path]
    return names


def test_when_listing_commands_then_every_command_has_a_failure_case() -> None:
    assert sorted(CASES) == leaf_commands(cli)


@pytest.mark.parametrize("command", sorted(CASES))
def test_when_command_fails_as_expected_then_one_line_and_exit_code(command: str, tmp_path: Path,
                                                                    monkeypatch) -> None:
    args, env, code, words = CASES[command]
    (tmp_path / "doc.md").write_text("# Policy\n\nRefunds within 30 days.\n")
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_VLLM_STATE_DIR", str(tmp_path / "vllm"))
    monkeypatch.setenv("RAG_VLLM_PORT", "9")
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))

    result = CliRunner().invoke(cli, [*command.split(), *(a.format(tmp=tmp_path) for a in args)])

    output = result.stdout + result.stderr
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output and words in output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) <= 1 and all(line.startswith("error: ") for line in errors), result.stderr


def _validation_error() -> ValidationError:
    try:
        Settings(top_k="many")
    except ValidationError as exc:
        return exc
    raise AssertionError("Settings accepted a bad top_k")


@pytest.mark.parametrize("exc, code, words", [
    (StoreError("the index is locked by another writer", retryable=True), 1, "locked by another writer (retry later)"),
    (EmbedderError("embedding model folder /x does not exist"), 1, "does not exist"),
    (ManifestError("manifest.yaml: rules must be a list"), 2, "rules must be a list"),
    (UnsupportedFileType("a.exe", "unsupported file type '.exe'", "convert it"), 2, "unsupported file type"),
    (BackendUnavailable("GGUF missing", backend="local", is_retryable=False), 1, "GGUF missing (not retryable)"),
    (SensitiveBackendDown("local model down", reasons=()), 3, "local model down"),
    (NotFound("no user named 'x'"), 2, "no user named"),
    (FileNotFoundError(2, "No such file or directory", "/etc/rag/policy.yaml"), 1, "/etc/rag/policy.yaml"),
])
def test_when_expected_error_then_failure_gives_message_and_exit_code(exc, code, words) -> None:
    message, exit_code = common.failure(exc)
    assert exit_code == code and words in message and "\n" not in message


def test_when_setting_is_malformed_then_failure_names_the_environment_variable() -> None:
    message, code = common.failure(_validation_error())
    assert code == 2 and message.startswith("bad configuration: RAG_TOP_K:")


@pytest.mark.parametrize("exc", [RuntimeError("a bug"), KeyError("x"), ValueError("a bug")])
def test_when_error_is_a_bug_then_it_is_not_swallowed(exc) -> None:
    assert common.failure(exc) is None

    @click.group(cls=RagGroup)
    def group() -> None: ...

    @group.command("boom")
    def boom() -> None:
        raise exc

    result = CliRunner().invoke(group, ["boom"])
    assert result.exception is exc

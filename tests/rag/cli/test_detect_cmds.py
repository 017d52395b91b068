"""`rag detect train-personal-matters`: the stored model was trained on the command's default inputs."""
from __future__ import annotations

from rag.cli.detect_cmds import MODEL_FILE, PROMPT_FILES, TRAINING_FILE
from rag.config import REPO_ROOT
from routing.personal_matters import PersonalMatterModel


def test_when_model_loaded_then_its_inputs_are_the_default_training_inputs():
    model = PersonalMatterModel.load(MODEL_FILE)

    assert model.training_files == tuple(str(p.relative_to(REPO_ROOT)) for p in (TRAINING_FILE, *PROMPT_FILES))


def test_when_default_prompt_files_listed_then_none_is_held_out_or_tuning_set_q():
    names = [str(p.relative_to(REPO_ROOT)) for p in PROMPT_FILES]

    assert all(p.is_file() for p in PROMPT_FILES)
    assert not [n for n in names if "heldout" in n or n.endswith("prompts_q.jsonl") or "presidio" in n]


def test_when_prompt_file_missing_then_one_error_line_and_model_untouched(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rag.cli import cli

    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    out = tmp_path / "model.json"

    result = CliRunner().invoke(cli, ["detect", "train-personal-matters", "--prompts", str(tmp_path / "gone.jsonl"),
                                      "--out", str(out)])

    assert result.exit_code == 2 and result.stderr.strip() == f"error: training file {tmp_path / 'gone.jsonl'} not found"
    assert not out.exists()

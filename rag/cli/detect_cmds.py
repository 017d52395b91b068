"""`rag detect ...`: maintenance of the sensitivity detector (training the personal-matter classifier)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from rag.cli import common
from rag.config import REPO_ROOT

ROUTING_DATA = REPO_ROOT / "data" / "routing"
TRAINING_FILE = ROUTING_DATA / "tuning" / "personal_matters.jsonl"
# Routing prompt sets whose benign and personal-matter prompts also train the classifier's binary regressions:
# the dev set and the hand-written tuning sets up to P. Not the generated sets (their "benign" label only says
# "no identifier": a will, a diagnosis), not tuning set Q (kept out to measure the change) and never data/heldout/.
PROMPT_FILES = (ROUTING_DATA / "prompts.jsonl", ROUTING_DATA / "generated.jsonl", ROUTING_DATA / "tuning" / "prompts.jsonl",
                *(ROUTING_DATA / "tuning" / f"prompts_{letter}.jsonl" for letter in "bcdefghijklmnop"))
MODEL_FILE = REPO_ROOT / "routing" / "personal_matter_model.json"


def train_personal_matters(training: Path = TRAINING_FILE, output: Path = MODEL_FILE,
                           prompts: tuple[Path, ...] = PROMPT_FILES) -> dict:
    """Train the classifier on `training` (and the benign and personal-matter prompts of `prompts`) with the
    classifier's embedder (multilingual E5) and write it to `output`."""
    from rag.runtime import build_classifier_embedder
    from routing.personal_matters import train

    embedder = build_classifier_embedder(common.settings())
    model = train(training, embedder.embed, embedder.name, prompts)
    files = tuple(str(p.resolve().relative_to(REPO_ROOT)) if p.resolve().is_relative_to(REPO_ROOT) else str(p)
                  for p in (training, *prompts))
    model = replace(model, training_files=files)
    model.save(output)
    return {"model": str(output), "threshold": round(model.threshold, 4), "weak_threshold": round(model.weak_threshold, 4),
            "validation": model.validation, "topics": list(model.topics), "training_sha256": model.training_sha256}


def register(cli: click.Group) -> None:
    """Add `rag detect` to the command group."""

    @cli.group("detect")
    def detect_group() -> None:
        """Sensitivity detector maintenance."""

    @detect_group.command("train-personal-matters")
    @click.option("--data", "training", type=click.Path(path_type=Path), default=TRAINING_FILE, show_default=True,
                  help="Labelled JSONL: {id, text, label} with label a topic or 'none'.")
    @click.option("--prompts", "prompts", type=click.Path(path_type=Path), multiple=True,
                  default=PROMPT_FILES, show_default=False,
                  help="Routing prompt JSONL ({id, text, sensitive, kind}) whose benign and personal_matter prompts also "
                       "train the binary regressions; repeat it. Default: the dev and tuning sets up to P.")
    @click.option("--no-prompts", is_flag=True, help="Train on the labelled file alone.")
    @click.option("--out", "output", type=click.Path(path_type=Path), default=MODEL_FILE, show_default=True,
                  help="Where to write the model (JSON).")
    def train_command(training: Path, prompts: tuple[Path, ...], no_prompts: bool, output: Path) -> None:
        """Train the personal-matter classifier (logistic regressions on multilingual E5 embeddings and word n-grams)."""
        prompts = () if no_prompts else tuple(prompts)
        for path in (training, *prompts):
            if not path.is_file():
                common.fail(f"training file {path} not found", 2)
        try:
            result = train_personal_matters(training, output, prompts)
        except ValueError as exc:
            common.fail(str(exc), 2)
            return
        common.emit(result, True)

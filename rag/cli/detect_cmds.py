"""`rag detect ...`: maintenance of the sensitivity detector (training the personal-matter classifier)."""
from __future__ import annotations

from pathlib import Path

import click

from rag.cli import common
from rag.config import REPO_ROOT

TRAINING_FILE = REPO_ROOT / "data" / "routing" / "tuning" / "personal_matters.jsonl"
MODEL_FILE = REPO_ROOT / "routing" / "personal_matter_model.json"


def train_personal_matters(training: Path = TRAINING_FILE, output: Path = MODEL_FILE) -> dict:
    """Train the classifier on `training` with the classifier's embedder (multilingual E5) and write it to `output`."""
    from rag.runtime import build_classifier_embedder
    from routing.personal_matters import train

    embedder = build_classifier_embedder(common.settings())
    model = train(training, embedder.embed, embedder.name)
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
    @click.option("--out", "output", type=click.Path(path_type=Path), default=MODEL_FILE, show_default=True,
                  help="Where to write the model (JSON).")
    def train_command(training: Path, output: Path) -> None:
        """Train the personal-matter classifier (logistic regressions on multilingual E5 embeddings and word n-grams)."""
        if not training.is_file():
            common.fail(f"training file {training} not found", 2)
        try:
            result = train_personal_matters(training, output)
        except ValueError as exc:
            common.fail(str(exc), 2)
            return
        common.emit(result, True)

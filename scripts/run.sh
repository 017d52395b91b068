#!/usr/bin/env bash
# The README's main command (`make run`) after set-up: ingest the sample corpus, start the vLLM server,
# make demo users on first run, and serve the API on RAG_HOST:RAG_PORT (default 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS= TOKENIZERS_PARALLELISM=false
RAG=.venv/bin/rag
home=${RAG_HOME:-.rag}
mkdir -p "$home"

$RAG vllm start --wait &          # starts in the background while the corpus is ingested
vllm_pid=$!
trap '$RAG vllm stop >/dev/null 2>&1 || true' EXIT

$RAG ingest data/corpus || echo "warning: some files were refused (see above)" >&2

key() {  # create a demo user and print only its key
  $RAG users add "$@" --json | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["api_key"])'
}
if [ ! -s "$home/demo-keys.txt" ]; then
  {
    echo "# Demo API keys (shown once; only their hashes are stored in $home/users.sqlite3)"
    echo "alice  employee, groups all,engineering:      $(key alice --groups all,engineering --role employee)"
    echo "hana   employee, groups all,hr:               $(key hana --groups all,hr --role employee)"
    echo "kim    knowledge_manager, every group:        $(key kim --groups all,engineering,hr,finance,legal,executives --role knowledge_manager)"
    echo "root   admin:                                 $(key root --groups all --role admin)"
  } > "$home/demo-keys.txt"
  chmod 600 "$home/demo-keys.txt"
fi
cat "$home/demo-keys.txt"

wait "$vllm_pid" || echo "warning: vLLM did not come up; non-sensitive prompts will fall back to the local model" >&2
$RAG serve

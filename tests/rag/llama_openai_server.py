"""A minimal OpenAI-compatible server over a real GGUF model (llama-cpp-python), for tests of the server route.

`python tests/rag/llama_openai_server.py GGUF NAME PORT` serves ``GET /v1/models`` and non-streaming
``POST /v1/chat/completions`` (llama.cpp already answers in the OpenAI shape). It stands in for vLLM where
what is tested is not vLLM itself (its own tests use the real vLLM server); llama-cpp-python's own server
needs extras this environment does not install.
"""
from __future__ import annotations

import sys
import threading

import uvicorn
from fastapi import FastAPI
from routing.backends.llama_cpp import open_llama


def build(gguf: str, name: str) -> FastAPI:
    """The app serving `gguf` under the model name `name`."""
    llm = open_llama(gguf, n_ctx=2048, n_threads=1, n_threads_batch=1, verbose=False)
    lock = threading.Lock()
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "test", "max_model_len": 2048}]}

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        with lock:
            result = llm.create_chat_completion(messages=body["messages"], max_tokens=body.get("max_tokens", 16),
                                                temperature=body.get("temperature", 0.0), stop=body.get("stop"))
        result["model"] = name
        return result

    return app


if __name__ == "__main__":
    gguf_path, model_name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(build(gguf_path, model_name), host="127.0.0.1", port=port, log_level="warning")

"""Generation backends behind one protocol: `LlamaCppBackend` ("local") and `OpenAICompatBackend` ("server").

Importing this package is cheap: llama-cpp-python loads only in `LlamaCppBackend.warm_up()`.
"""
from routing.backends.base import (BackendHealth, Generation, GenerationBackend, GenerationStream, Message,
                                   ModelInfo, validate_request)
from routing.backends.llama_cpp import LlamaCppBackend, default_gguf_path
from routing.backends.openai_compat import OpenAICompatBackend

__all__ = [
    "BackendHealth",
    "Generation",
    "GenerationBackend",
    "GenerationStream",
    "LlamaCppBackend",
    "Message",
    "ModelInfo",
    "OpenAICompatBackend",
    "default_gguf_path",
    "validate_request",
]

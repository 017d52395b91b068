"""A server backend that records every payload it is sent (for tests of what reaches the server)."""
from __future__ import annotations

from routing.backends.base import BackendHealth, Generation, GenerationStream, ModelInfo


class RecordingServer:
    """Answers "ok" and keeps each payload in `sent`."""

    name = "server"

    def __init__(self) -> None:
        self.sent: list = []

    @property
    def model(self):
        return ModelInfo("served")

    @property
    def context_window(self):
        return 2048

    def warm_up(self):
        pass

    def health(self):
        return BackendHealth(True, "up")

    def count_tokens(self, text):
        return len(text.split())

    def generate(self, messages, *, max_tokens=128, temperature=0.0, stop=None):
        self.sent.append(list(messages))
        return Generation("ok", 1, 1, "stop", "served", 0.0)

    def stream(self, messages, *, max_tokens=128, temperature=0.0, stop=None):
        self.sent.append(list(messages))
        return GenerationStream(iter(["o", "k"]), lambda: Generation("ok", 1, 1, "stop", "served", 0.0))

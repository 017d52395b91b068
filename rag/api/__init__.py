"""The HTTP service: `create_app(settings)` builds the FastAPI app (see `rag.api.app`)."""
from rag.api.app import create_app

__all__ = ["create_app"]

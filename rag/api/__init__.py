"""The HTTP API: `create_app()` builds a FastAPI app over one loaded `Services`."""

from rag.api.app import create_app

__all__ = ["create_app"]

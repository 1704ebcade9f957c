"""One router per domain: health, ask, search, documents, chat (OpenAI-compatible)."""

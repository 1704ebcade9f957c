"""LLM clients behind one small interface, chosen by name from a registry."""

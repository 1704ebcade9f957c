"""Answering: prompts, LLM call, citation checking, abstention."""

"""A yes/no question put to an OpenAI-compatible model, read as a probability.

The first reply token's log-probabilities give P(yes) (OpenAI, vLLM, llama.cpp's server and
recent Ollama return them when asked); a server that sends none is read from its word.
"""

from __future__ import annotations

import math
from typing import Any

from rag.schemas import ChatMessage

# First-token alternatives read (OpenAI allows at most 20).
TOP_ALTERNATIVES = 10
YES = ("是", "yes", "对")
NO = ("否", "no", "不")


def yes_no_payload(model: str, messages: list[ChatMessage]) -> dict[str, Any]:
    """A one-token, greedy chat completion that returns its first token's alternatives."""
    return {
        "model": model,
        "messages": [message.model_dump() for message in messages],
        "temperature": 0.0,
        "max_tokens": 1,
        "stream": False,
        "logprobs": True,
        "top_logprobs": TOP_ALTERNATIVES,
    }


def yes_probability(body: dict[str, Any], content: str) -> float | None:
    """P(yes) among the yes and no alternatives of the reply's first token; without
    log-probabilities 1.0 or 0.0 from the reply's word; None when it is neither."""
    yes = no = 0.0
    for word, chance in _first_token_alternatives(body):
        yes += chance if word.startswith(YES) else 0.0
        no += chance if word.startswith(NO) else 0.0
    if yes + no > 0:
        return yes / (yes + no)
    word = content.strip().lower()
    if word.startswith(YES):
        return 1.0
    return 0.0 if word.startswith(NO) else None


def _first_token_alternatives(body: dict[str, Any]) -> list[tuple[str, float]]:
    """(token, probability) pairs of the first token, or none when the reply lacks them."""
    try:
        top = body["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        return [(str(t["token"]).strip().lower(), math.exp(float(t["logprob"]))) for t in top]
    except (KeyError, IndexError, TypeError, ValueError):
        return []

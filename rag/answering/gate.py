"""The pre-generation gate for generative clients: refuse only clearly off-topic retrieval.

The abstention model's threshold is set for the extractive answerer, which has no other
way to decline; a model reads the passages and can say so itself, and whatever it writes
is checked sentence by sentence afterwards. So before generation the model is skipped only
when the abstention model's confidence is below a much lower threshold, fit on the dev split
so that almost no answerable dev question is refused: `python evals/fit_gate.py` refits
it (after refitting the abstention model, whose confidence it reads) into `gate.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from rag.answering.abstention import Verdict
from rag.errors import RagError

GATE_FILE = "gate.json"


@dataclass(frozen=True)
class OffTopicGate:
    threshold: float  # on the abstention model's confidence

    def judge(self, verdict: Verdict) -> Verdict:
        """The verdict for a generative client: answerable unless clearly off-topic."""
        answerable = verdict.confidence >= self.threshold
        reason = (
            f"evidence score {verdict.confidence:.2f} "
            f"{'>=' if answerable else '<'} off-topic threshold {self.threshold:.2f}"
        )
        return Verdict(answerable, reason, verdict.confidence)

    @classmethod
    def load(cls, path: Traversable | None = None) -> OffTopicGate:
        path = path or files("rag.answering") / GATE_FILE
        try:
            return cls(threshold=float(json.loads(path.read_text("utf-8"))["threshold"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RagError(f"gate file {path} is unreadable ({exc}): refit it") from exc

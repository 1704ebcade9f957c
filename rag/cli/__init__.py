"""The `rag` command: ingest, add, remove, list, search, ask, chat, eval, serve.

`common.py` holds the app and what the commands share; each other module adds its
commands to it. Heavy parts are imported inside the commands, so `rag --help` is instant.
"""

from rag.cli import answers, corpus, evaluate, server
from rag.cli.common import app

__all__ = ["answers", "app", "corpus", "evaluate", "server"]

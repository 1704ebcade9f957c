"""`python -m rag.cli`: the `rag` command without its console script (MCP client configs)."""

from rag.cli import app

app()

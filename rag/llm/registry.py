"""Choosing an LLM client by name: built-ins, `rag.llm_clients` entry points, registrations.

A factory is `(settings, **deps) -> LLMClient`; `deps` carries what some clients need
besides settings (the extractive answerer needs the index's evidence scorer), and factories
ignore what they do not use. The built-ins are the caller's: this package knows no client
but the OpenAI-compatible one, and the answering package passes both it and the extractive
answerer (see `rag.answering.pipeline.BUILTIN_CLIENTS`).
Precedence, lowest first: entry points, built-ins, `register()` (an installed plugin cannot
silently replace a built-in, but code that registers on purpose can).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from typing import Any

from rag.config import Settings
from rag.errors import InvalidRequestError, LLMError
from rag.llm.base import LLMClient
from rag.llm.openai import OpenAIClient

ENTRY_POINT_GROUP = "rag.llm_clients"

Factory = Callable[..., LLMClient]


def openai_factory(settings: Settings, **deps: Any) -> LLMClient:
    """An OpenAIClient configured from `RAG_LLM_*` settings; `deps` are not needed."""
    return OpenAIClient(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        retries=settings.llm_retries,
        deadline=settings.llm_deadline,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


def entry_point_factories() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed plugins by name, not yet imported (a broken one fails only when chosen)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


class ClientRegistry:
    """Names to factories: the caller's `builtins`, plus plugins unless `plugins=False`."""

    def __init__(self, builtins: Mapping[str, Factory], *, plugins: bool = True) -> None:
        self._builtins: dict[str, Factory] = dict(builtins)
        self._use_plugins = plugins
        self._plugins: dict[str, importlib.metadata.EntryPoint] | None = None
        self._registered: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        self._registered[name] = factory

    def names(self) -> list[str]:
        return sorted(set(self._plugin_entries()) | set(self._builtins) | set(self._registered))

    def create(self, name: str, settings: Settings, **deps: Any) -> LLMClient:
        factory = self._registered.get(name) or self._builtins.get(name)
        if factory is None:
            entry = self._plugin_entries().get(name)
            if entry is None:
                available = ", ".join(self.names()) or "(none)"
                raise InvalidRequestError(f"unknown LLM client '{name}': available: {available}")
            factory = self._load(entry)
            self._registered.setdefault(name, factory)  # import a plugin once
        return factory(settings, **deps)

    def _plugin_entries(self) -> dict[str, importlib.metadata.EntryPoint]:
        """Entry points, read on first use and then kept (scanning installs is slow)."""
        if not self._use_plugins:
            return {}
        if self._plugins is None:
            self._plugins = entry_point_factories()
        return self._plugins

    def _load(self, entry: importlib.metadata.EntryPoint) -> Factory:
        try:
            factory = entry.load()
        except Exception as exc:  # any import-time failure of a third-party plugin
            raise LLMError(entry.name, f"cannot load plugin {entry.value!r}: {exc}") from exc
        if not callable(factory):
            raise LLMError(entry.name, f"plugin {entry.value!r} is not callable")
        return factory

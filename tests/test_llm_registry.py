"""Choosing LLM clients by name: built-ins, entry points, registrations, unknown names."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from typing import Any

import pytest

from rag.config import Settings
from rag.errors import InvalidRequestError, LLMError
from rag.llm.base import GenerationRequest
from rag.llm.openai import OpenAIClient
from rag.llm.registry import BUILTIN, ENTRY_POINT_GROUP, ClientRegistry

SETTINGS = Settings(
    _env_file=None,
    llm_base_url="http://127.0.0.1:9/v1/",
    llm_model="qwen",
    llm_api_key="sk-x",
    llm_timeout=7.0,
    llm_retries=4,
)


class StubClient:
    def __init__(self, name: str, deps: dict[str, Any]) -> None:
        self.name = name
        self.deps = deps

    def generate(self, request: GenerationRequest) -> str:
        return "stub"

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        yield "stub"


def stub_factory(settings: Settings, **deps: Any) -> StubClient:
    return StubClient("stub", deps)


def plugin_factory(settings: Settings, **deps: Any) -> StubClient:
    return StubClient("plugin", deps)


def _entry_points(*entries: tuple[str, str]):
    def fake(*, group: str) -> list[importlib.metadata.EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return [importlib.metadata.EntryPoint(name, value, group) for name, value in entries]

    return fake


@pytest.fixture
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points())


def test_builtin_names(no_plugins: None) -> None:
    assert "openai" in BUILTIN
    assert ClientRegistry().names() == ["openai"]


def test_openai_factory_reads_settings(no_plugins: None) -> None:
    client = ClientRegistry().create("openai", SETTINGS, embedder=object())
    assert isinstance(client, OpenAIClient)
    try:
        assert client.name == "openai"
        assert client.url == "http://127.0.0.1:9/v1/chat/completions"
        assert client.model == "qwen"
        assert client.timeout == 7.0
        assert client.retries == 4
    finally:
        client.close()


def test_unknown_name_lists_the_available_ones(no_plugins: None) -> None:
    registry = ClientRegistry()
    registry.register("extractive", stub_factory)
    with pytest.raises(InvalidRequestError) as info:
        registry.create("gpt-9", SETTINGS)
    assert str(info.value) == "unknown LLM client 'gpt-9': available: extractive, openai"


def test_register_adds_a_client_and_passes_deps(no_plugins: None) -> None:
    registry = ClientRegistry()
    registry.register("extractive", stub_factory)
    assert registry.names() == ["extractive", "openai"]
    client = registry.create("extractive", SETTINGS, embedder="E")
    assert isinstance(client, StubClient)
    assert client.deps == {"embedder": "E"}


def test_register_overrides_a_builtin(no_plugins: None) -> None:
    registry = ClientRegistry()
    registry.register("openai", stub_factory)
    assert isinstance(registry.create("openai", SETTINGS), StubClient)


def test_entry_points_are_read_once_and_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fake = _entry_points(
        ("plugin", f"{__name__}:plugin_factory"),
        ("openai", f"{__name__}:plugin_factory"),  # cannot shadow the built-in
    )

    def counting(*, group: str) -> list[importlib.metadata.EntryPoint]:
        calls.append(group)
        return fake(group=group)

    monkeypatch.setattr(importlib.metadata, "entry_points", counting)
    registry = ClientRegistry()
    assert calls == []  # lazy
    assert registry.names() == ["openai", "plugin"]
    client = registry.create("plugin", SETTINGS, x=1)
    assert isinstance(client, StubClient) and client.name == "plugin" and client.deps == {"x": 1}
    registry.create("plugin", SETTINGS)
    assert isinstance(registry.create("openai", SETTINGS), OpenAIClient)
    assert calls == [ENTRY_POINT_GROUP]


def test_broken_plugin_fails_only_when_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        importlib.metadata, "entry_points", _entry_points(("broken", "no_such_module_xyz:f"))
    )
    registry = ClientRegistry()
    assert registry.names() == ["broken", "openai"]
    with pytest.raises(LLMError, match="broken.*no_such_module_xyz"):
        registry.create("broken", SETTINGS)


def test_explicit_factories_replace_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points(("plugin", "x:y")))
    registry = ClientRegistry({"stub": stub_factory})
    assert registry.names() == ["stub"]
    registry.register("extractive", stub_factory)
    assert registry.names() == ["extractive", "stub"]
    with pytest.raises(InvalidRequestError, match="available: extractive, stub"):
        registry.create("openai", SETTINGS)

"""Choosing LLM clients by name: built-ins, entry points, registrations, unknown names."""

from __future__ import annotations

import ast
import importlib.metadata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rag.llm
from rag.answering.extractive import ExtractiveClient
from rag.answering.pipeline import BUILTIN_CLIENTS
from rag.config import Settings
from rag.errors import InvalidRequestError, LLMError
from rag.llm.base import GenerationRequest
from rag.llm.openai import OpenAIClient
from rag.llm.registry import ENTRY_POINT_GROUP, ClientRegistry, openai_factory

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


BUILTINS = {"openai": openai_factory}


@pytest.fixture
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points())


def test_builtin_names(no_plugins: None) -> None:
    assert ClientRegistry(BUILTINS).names() == ["openai"]
    assert ClientRegistry({}).names() == []


def test_openai_factory_reads_settings(no_plugins: None) -> None:
    client = ClientRegistry(BUILTINS).create("openai", SETTINGS, embedder=object())
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
    registry = ClientRegistry(BUILTINS)
    registry.register("extractive", stub_factory)
    with pytest.raises(InvalidRequestError) as info:
        registry.create("gpt-9", SETTINGS)
    assert str(info.value) == "unknown LLM client 'gpt-9': available: extractive, openai"


def test_register_adds_a_client_and_passes_deps(no_plugins: None) -> None:
    registry = ClientRegistry(BUILTINS)
    registry.register("extractive", stub_factory)
    assert registry.names() == ["extractive", "openai"]
    client = registry.create("extractive", SETTINGS, embedder="E")
    assert isinstance(client, StubClient)
    assert client.deps == {"embedder": "E"}


def test_register_overrides_a_builtin(no_plugins: None) -> None:
    registry = ClientRegistry(BUILTINS)
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
    registry = ClientRegistry(BUILTINS)
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
    registry = ClientRegistry(BUILTINS)
    assert registry.names() == ["broken", "openai"]
    with pytest.raises(LLMError, match="broken.*no_such_module_xyz"):
        registry.create("broken", SETTINGS)


def test_without_plugins_only_the_given_factories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points(("plugin", "x:y")))
    registry = ClientRegistry({"stub": stub_factory}, plugins=False)
    assert registry.names() == ["stub"]
    registry.register("extractive", stub_factory)
    assert registry.names() == ["extractive", "stub"]
    with pytest.raises(InvalidRequestError, match="available: extractive, stub"):
        registry.create("openai", SETTINGS)


def test_the_shipped_builtins_build_extractive_with_the_scorer_passed_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        _entry_points(("extractive", f"{__name__}:plugin_factory")),  # cannot shadow it
    )
    registry = ClientRegistry(BUILTIN_CLIENTS)
    assert registry.names() == ["extractive", "openai"]
    scorer = object()
    client = registry.create("extractive", SETTINGS, scorer=scorer)
    assert isinstance(client, ExtractiveClient) and client.name == "extractive"
    assert client.scorer is scorer
    with pytest.raises(TypeError, match="scorer"):
        registry.create("extractive", SETTINGS)
    openai = registry.create("openai", SETTINGS, scorer=scorer)  # deps it does not use
    assert isinstance(openai, OpenAIClient)
    openai.close()


def test_the_llm_package_imports_nothing_from_answering() -> None:
    for path in Path(rag.llm.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            assert not any(m.startswith("rag.answering") for m in modules), (path.name, modules)

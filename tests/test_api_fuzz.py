"""API fuzzing with schemathesis, from the service's own OpenAPI schema.

Every operation (uploads and deletes included, on a private copy of a small corpus) gets
generated requests, valid and invalid: no 5xx, every response matches its documented
status codes, content type and schema, and every 4xx carries a `detail` message.
The number of examples is bounded so the module runs in well under two minutes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from evals.crash_harness import FILES
from rag.api import create_app
from rag.config import Settings
from rag.documents import rebuild
from rag.index import load_index
from rag.services import Services
from tests.api_server import start_server
from tests.conftest import SEEDS

EXAMPLES = 12


@schemathesis.check
def four_xx_has_a_message(ctx, response, case) -> None:  # noqa: ANN001
    """A client error says what was wrong: `{"detail": "<non-empty text>"}`."""
    if 400 <= response.status_code < 500:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
        if not (isinstance(detail, str) and detail.strip()):
            raise AssertionError(f"{response.status_code} without a message: {response.text[:200]}")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    four_xx_has_a_message,
]


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory, base_settings, embedder, seed_bundle, services) -> Iterator[str]:
    """A server over a private two-file corpus (fast to rebuild after each fuzzed upload)."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "seeds").mkdir()
    for name in FILES:
        shutil.copy2(SEEDS / name, root / "seeds" / name)
    shutil.copytree(base_settings.index_dir, root / "index")  # lends its vectors
    own = base_settings.model_copy(
        update={"source_dir": root / "seeds", "index_dir": root / "index"}
    )
    rebuild(own, embedder)
    own_services = Services.from_parts(own, embedder, load_index(own.index_dir))
    with start_server(own_services, max_upload_bytes=64 * 1024) as url:
        yield url


def operations() -> list[tuple[str, str, GenerationMode]]:
    """Every operation of the app's OpenAPI schema (new routes are fuzzed automatically):
    valid requests, and invalid ones where there is something to get wrong."""
    paths = create_app(Settings(_env_file=None)).openapi()["paths"]
    cases = []
    for path, ops in paths.items():
        for method, operation in ops.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            # A string path parameter has no invalid value to generate.
            query = [p for p in operation.get("parameters", []) if p["in"] != "path"]
            if query or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture(scope="module")
def api_schema(fuzz_url: str):
    return schemathesis.openapi.from_url(f"{fuzz_url}/openapi.json")


@pytest.mark.parametrize(("method", "path", "mode"), operations(), ids=str)
def test_api_holds_to_its_schema(api_schema, fuzz_url: str, method, path, mode) -> None:  # noqa: ANN001
    operation = api_schema.find_operation_by_path(method, path)
    count = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run: CI failures reproduce
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:  # noqa: ANN001
        nonlocal count
        count += 1
        case.call_and_validate(base_url=fuzz_url, checks=CHECKS, timeout=60)

    run()
    print(f"{method} {path} {mode.value}: {count} cases")
    assert count >= 1


def test_the_corpus_stays_readable_after_fuzzing(fuzz_url: str) -> None:
    """Whatever the fuzzer uploaded or deleted, the service still answers."""
    import httpx

    ready = httpx.get(f"{fuzz_url}/readyz").json()
    assert ready["status"] == "ready" and ready["documents"] >= 1
    assert Path(SEEDS).is_dir()

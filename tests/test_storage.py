"""The machine's failures are named: a full, read-only or unwritable folder is a 507/503
(one line from the CLI) naming the folder and its setting, with the corpus folder restored
and the previous index still served.

The real variant mounts small tmpfs filesystems (root, where the sandbox allows mounts);
the other makes the index writes raise ENOSPC, as a full disk does.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rag.cli import app as cli_app
from rag.config import Settings
from rag.index.generations import current_generation
from rag.index.lexical import LexicalIndex
from tests.test_api_updates import live_server
from tests.test_updates import CLINIC_TEXT, CLINIC_TITLE, folder_state

# Enough new text that its generation cannot fit beside the old one on a small disk.
BIG_TEXT = "\n\n".join(f"第{i}段。{CLINIC_TEXT}" for i in range(40))


@contextmanager
def tmpfs(where: Path, size_kb: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def kb(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) // 1024


def upload(http: httpx.Client) -> httpx.Response:
    return http.post("/v1/documents?wait=true", json={"title": CLINIC_TITLE, "text": BIG_TEXT})


def assert_nothing_changed(http: httpx.Client, settings: Settings, before: dict, live: Path):
    assert folder_state(Path(settings.source_dir)) == before
    assert current_generation(settings.index_dir) == live
    search = http.get("/v1/search", params={"q": "村卫生室"})
    assert search.status_code == 200
    assert all(hit["title"] != CLINIC_TITLE for hit in search.json()["hits"])


def test_a_full_index_disk_is_a_507_naming_the_folder(index_copy, services, tmp_path):
    disk = tmp_path / "disk"
    with tmpfs(disk, kb(Path(index_copy.index_dir)) + 160):
        shutil.copytree(index_copy.index_dir, disk / "index")
        settings = index_copy.model_copy(update={"index_dir": disk / "index"})
        before = folder_state(Path(settings.source_dir))
        live = current_generation(settings.index_dir)
        with live_server(settings, services) as http:
            response = upload(http)
            assert response.status_code == 507, response.text
            detail = response.json()["detail"]
            assert "no space left on device" in detail
            assert f"index folder {(disk / 'index').resolve()} (RAG_INDEX_DIR)" in detail
            assert_nothing_changed(http, settings, before, live)


def test_a_read_only_corpus_folder_is_a_503_naming_it(index_copy, services, tmp_path):
    disk = tmp_path / "corpus"
    with tmpfs(disk, 4096):
        shutil.copytree(index_copy.source_dir, disk / "seeds")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        settings = index_copy.model_copy(update={"source_dir": disk / "seeds"})
        before = folder_state(Path(settings.source_dir))
        live = current_generation(settings.index_dir)
        with live_server(settings, services) as http:
            response = upload(http)
            assert response.status_code == 503, response.text
            detail = response.json()["detail"]
            assert "read-only file system" in detail
            assert f"corpus folder {(disk / 'seeds').resolve()} (RAG_SOURCE_DIR)" in detail
            assert_nothing_changed(http, settings, before, live)


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def faiss_short_write(*args, **kwargs):
    raise RuntimeError(
        "Error: 'ret == (size * 4)' failed: write error in x: 1 != 2 (No space left on device)"
    )


@pytest.mark.parametrize("failure", [no_space, faiss_short_write])
def test_writes_that_raise_enospc_are_a_507(index_copy, services, monkeypatch, failure):
    before = folder_state(Path(index_copy.source_dir))
    live = current_generation(index_copy.index_dir)
    monkeypatch.setattr(LexicalIndex, "save", failure)
    with live_server(index_copy, services) as http:
        response = upload(http)
        assert response.status_code == 507, response.text
        detail = response.json()["detail"]
        assert f"{Path(index_copy.index_dir).resolve()} (RAG_INDEX_DIR)" in detail
        assert "nothing was changed" in detail
        assert_nothing_changed(http, index_copy, before, live)
        monkeypatch.undo()
        assert upload(http).status_code == 201  # space again: the same upload goes through


def test_the_cli_prints_a_full_disk_as_one_line(index_copy, monkeypatch, tmp_path):
    article = tmp_path / "clinic.md"
    article.write_text(f"# {CLINIC_TITLE}\n\n{CLINIC_TEXT}\n", "utf-8")
    before = folder_state(Path(index_copy.source_dir))
    monkeypatch.setattr(LexicalIndex, "save", no_space)
    where = ["--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)]
    result = CliRunner().invoke(cli_app, ["add", str(article), *where])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "no space left on device" in lines[0] and "(RAG_INDEX_DIR)" in lines[0]
    assert folder_state(Path(index_copy.source_dir)) == before

"""The wheel carries what the service reads at run time, so a non-editable install works.

The prompts are edited in the top-level `prompts/`; `rag/prompts` links to it, and the
wheel holds a copy of the files there, next to the web page's static files. The installed
package is checked from another working directory: it must read its own copy of the
prompts, not the checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = sorted(p.name for p in (ROOT / "prompts").iterdir() if p.is_file())
STATIC = sorted(p.name for p in (ROOT / "rag" / "api" / "static").iterdir() if p.is_file())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (a build leaves build/ and *.egg-info
    in the folder it runs in); the copy keeps `rag/prompts` a symbolic link."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "rag", src / "rag", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "prompts", src / "prompts")
    assert (src / "rag" / "prompts").is_symlink()
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*command, "-q", "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = (tmp / "dist").glob("rag-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked: what `pip install` puts in site-packages."""
    folder = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    return folder


def run_installed(installed: Path, cwd: Path, *args: str, **env: str) -> str:
    """Python with only the unpacked wheel on the path for `rag`, run in `cwd` (no .env,
    no RAG_* variables from this process); returns stdout."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    clean |= {"PYTHONPATH": str(installed), **env}
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_carries_the_prompts_and_the_static_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"rag/prompts/system.md", "rag/api/static/index.html"} <= names
        assert {f"rag/prompts/{name}" for name in PROMPTS} <= names
        assert {f"rag/api/static/{name}" for name in STATIC} <= names
        for name in PROMPTS:  # the files themselves, not the link
            assert archive.read(f"rag/prompts/{name}") == (ROOT / "prompts" / name).read_bytes()


def test_the_installed_package_reads_its_own_prompts(installed: Path, tmp_path: Path) -> None:
    code = (
        "import json, rag\n"
        "from rag.answering.prompts import PromptBook, default_prompts_dir\n"
        "from rag.config import Settings\n"
        "book = PromptBook.load(Settings().prompts_dir)\n"
        "print(json.dumps({'rag': rag.__file__, 'prompts': str(default_prompts_dir()),\n"
        "                  'system': book.system}))\n"
    )
    seen = json.loads(run_installed(installed, tmp_path, "-c", code))
    assert Path(seen["rag"]).is_relative_to(installed)
    prompts = Path(seen["prompts"])
    assert prompts == installed / "rag" / "prompts" and not prompts.is_symlink()
    assert seen["system"] == (ROOT / "prompts" / "system.md").read_text("utf-8").strip()


def test_rag_prompts_dir_overrides_the_packaged_prompts(installed: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "mine")
    (tmp_path / "mine" / "system.md").write_text("my own rules", "utf-8")
    code = (
        "from rag.answering.prompts import PromptBook\n"
        "from rag.config import Settings\n"
        "print(PromptBook.load(Settings().prompts_dir).system)\n"
    )
    out = run_installed(installed, tmp_path, "-c", code, RAG_PROMPTS_DIR=str(tmp_path / "mine"))
    assert out.strip() == "my own rules"


def test_rag_ask_from_the_installed_package_in_another_folder(
    installed: Path, index_copy: Settings, tmp_path: Path
) -> None:
    """The whole command: the extractive answerer loads the packaged prompts on start."""
    question = "浏阳市中医院派到文家市镇大成村的第一书记是谁?"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run_installed(
        installed,
        elsewhere,
        "-c",
        "from rag.cli import app; app()",
        "ask",
        question,
        "--index",
        str(index_copy.index_dir),
        "--json",
        RAG_SOURCE_DIR=str(index_copy.source_dir),
    )
    answer = json.loads(out)
    assert answer["answerable"] and "陶佑朋" in answer["answer"]
    assert answer["citations"]

"""Crash safety: kill -9 during `rag ingest`, `rag add`, `rag remove` loses nothing.

The long run (24 trials) is `python evals/crash.py`; this test runs a shorter one with the
same checks (evals/crash_harness.py), plus the two weak spots it found, made deterministic.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from evals.crash_harness import OPERATIONS, CrashBench, run_trials
from rag.config import Settings
from rag.documents import rebuild
from rag.index import load_index
from rag.index.generations import POINTER, current_generation, prune, write_lock


@pytest.fixture(scope="module")
def crash_bench(tmp_path_factory, embedder, base_settings, seed_bundle) -> CrashBench:
    return CrashBench(tmp_path_factory.mktemp("crash"), embedder, base_settings.index_dir)


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_old_or_new_state(crash_bench: CrashBench) -> None:
    report = run_trials(crash_bench, count=len(OPERATIONS), seed=int(time.time()))
    print(report.table())
    assert len(report.trials) == len(OPERATIONS)


def test_an_orphan_generation_does_not_replace_the_previous_one(index_copy: Settings) -> None:
    """A writer killed between renaming its generation and swapping CURRENT leaves a newer,
    never-live folder; pruning must drop it and keep the generation readers may still use."""
    root = Path(index_copy.index_dir)
    live = current_generation(root)
    previous = root / "gen-00000000T000000000000-aaaaaa"
    shutil.copytree(live, previous)
    orphan = root / "gen-99999999T999999999999-ffffff"
    shutil.copytree(live, orphan)
    (root / ".tmp-deadbeef").mkdir()
    (root / f".{POINTER}.deadbeef").write_text(orphan.name)
    prune(root)
    assert sorted(p.name for p in root.glob("gen-*")) == sorted([previous.name, live.name])
    assert not list(root.glob(".tmp-*")) and not list(root.glob(f".{POINTER}.*"))
    assert load_index(root).folder == live


def test_ingest_waits_for_the_write_lock(index_copy: Settings, embedder) -> None:
    """`rag ingest` (build_index) must not read the folder while a change holds the lock."""
    before = current_generation(index_copy.index_dir)
    (Path(index_copy.source_dir) / "extra.md").write_text("# 标题\n\n白水镇新建了卫生室。\n")
    done = threading.Event()

    def ingest() -> None:
        rebuild(index_copy, embedder)
        done.set()

    with write_lock(index_copy.index_dir):
        worker = threading.Thread(target=ingest)
        worker.start()
        time.sleep(1.0)
        assert not done.is_set(), "ingest ran while another writer held the lock"
        assert current_generation(index_copy.index_dir) == before
        # The lock holder changes the folder: ingest must read it only afterwards.
        (Path(index_copy.source_dir) / "extra.md").unlink()
    worker.join(timeout=120)
    assert done.is_set()
    assert "extra.md" not in load_index(index_copy.index_dir).manifest.files

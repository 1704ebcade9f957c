"""Kill -9 trials for `rag ingest`, `rag add` and `rag remove` (tests/test_crash_safety.py,
evals/crash.py).

A trial starts the real CLI on a fresh copy of a small corpus and its index, kills it with
SIGKILL at a random moment, then checks:

- the corpus folder is not half-written: every file is byte-for-byte its old or new version;
- the index loads, and is exactly the old or the new state (same chunks, same search
  results, scores included, for fixed queries);
- after the next writer resolves the crash (any write command; here the same lock +
  recovery `rag ingest` uses), the folder is exactly the old or new folder, and the one the
  index was built from.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.corpus.files import corpus_checksum
from rag.documents import rebuild, recover
from rag.embedding.base import Embedder
from rag.index import load_index
from rag.services import Services

ROOT = Path(__file__).resolve().parent.parent
RAG = Path(sys.executable).with_name("rag")
FILES = ["000_7e841ab394fa862e.txt", "001_71199bcc3a10d29b.txt"]
QUERIES = ["北塔区村党组织书记待遇", "安化禁毒宣传伞", "醴陵 外脑 专家", "青山县乡村公路"]
NEW_ARTICLE = "# 青山县修路\n\n青山县今年新修了三条乡村公路，总长十二公里。村民出行更方便了。\n"
EXTRA_ARTICLE = "# 白水镇卫生室\n\n白水镇新建了五个村卫生室，配备了十二名乡村医生。\n"

# name -> (CLI arguments after `rag`, and how to prepare the folder before the command)
OPERATIONS = {
    "ingest": ["ingest", "--force"],  # after extra.md was dropped into the folder
    "add": ["add", "{new}", "--metadata", "place=青山县"],
    "remove-one": ["remove", "c9c418002e29"],  # one article of a six-article file: sidecar
    "remove-file": ["remove", "c9e2d96af731", "aba538427112"],  # a whole file goes
}


@dataclass
class Trial:
    operation: str
    kill_after: float
    killed: bool  # False: the command had finished before the kill
    index_state: str  # "old" | "new"
    folder_state: str  # after recovery: "old" | "new"


@dataclass
class Report:
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> str:
        lines = ["operation    trials  killed  index=old  index=new  finished"]
        for name in OPERATIONS:
            runs = [t for t in self.trials if t.operation == name]
            lines.append(
                f"{name:<12} {len(runs):>6}  {sum(t.killed for t in runs):>6}  "
                f"{sum(t.index_state == 'old' for t in runs):>9}  "
                f"{sum(t.index_state == 'new' for t in runs):>9}  "
                f"{sum(not t.killed for t in runs):>8}"
            )
        lines.append(f"{len(self.trials)} trials in {self.seconds:.0f}s, every one consistent")
        return "\n".join(lines)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every visible file of the corpus folder (hidden temporaries and backups aside)."""
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    return {n: b for n, b in files.items() if not n.startswith(".") or n == ".rag-corpus.json"}


def index_state(settings: Settings, embedder: Embedder) -> tuple:
    """What a reader sees: the corpus checksum, the chunks, and ranked hits with scores."""
    bundle = load_index(settings.index_dir)
    retriever = Services.from_parts(settings, embedder, bundle).retriever
    hits = [
        tuple((h.chunk_id, round(h.score, 6)) for h in retriever.search(q, 5, "hybrid", None))
        for q in QUERIES
    ]
    chunks = tuple(c.chunk_id for c in bundle.store.chunks)
    return bundle.manifest.corpus_checksum, chunks, tuple(hits)


class CrashBench:
    """A template corpus + index, and per-operation old/new states to compare against."""

    def __init__(self, workdir: Path, embedder: Embedder, seed_index: Path) -> None:
        self.workdir = workdir
        self.embedder = embedder
        template = workdir / "template"
        (template / "seeds").mkdir(parents=True)
        for name in FILES:
            shutil.copy2(ROOT / "seeds" / name, template / "seeds" / name)
        (workdir / "new.md").write_text(NEW_ARTICLE, "utf-8")
        # Starting from the seed index lets the build reuse its vectors (nothing to embed).
        shutil.copytree(seed_index, template / "index")
        self.template = self.settings(template)
        rebuild(self.template, embedder)
        self.old: dict[str, tuple] = {}
        self.new: dict[str, tuple] = {}
        self.durations: dict[str, float] = {}
        for name in OPERATIONS:
            settings = self.fresh(name, workdir / f"reference-{name}")
            self.old[name] = (snapshot(settings.source_dir), index_state(settings, embedder))
            started = time.monotonic()
            subprocess.run(self.command(name, settings), check=True, capture_output=True)
            self.durations[name] = time.monotonic() - started
            self.new[name] = (snapshot(settings.source_dir), index_state(settings, embedder))
            assert self.new[name][1] != self.old[name][1], f"{name} changed nothing"

    @staticmethod
    def settings(folder: Path) -> Settings:
        return Settings(source_dir=folder / "seeds", index_dir=folder / "index", _env_file=None)

    def fresh(self, operation: str, folder: Path) -> Settings:
        """A private copy of the template, prepared for `operation`."""
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(self.template.source_dir, folder / "seeds")
        shutil.copytree(self.template.index_dir, folder / "index")
        if operation == "ingest":
            (folder / "seeds" / "extra.md").write_text(EXTRA_ARTICLE, "utf-8")
        return self.settings(folder)

    def command(self, operation: str, settings: Settings) -> list[str]:
        args = [a.format(new=self.workdir / "new.md") for a in OPERATIONS[operation]]
        where = ["--source", str(settings.source_dir), "--index", str(settings.index_dir)]
        return [str(RAG), *args, *where]

    def trial(self, operation: str, rng: random.Random) -> Trial:
        settings = self.fresh(operation, self.workdir / "trial")
        # The first ~third is interpreter and model start-up: most kills land in the work.
        duration = self.durations[operation]
        kill_after = rng.uniform(0.3 * duration, 1.05 * duration)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(
            self.command(operation, settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(kill_after)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait()
        old_files, old_index = self.old[operation]
        new_files, new_index = self.new[operation]

        # Straight after the kill: no half-written corpus file, a loadable old-or-new index.
        for name, data in snapshot(settings.source_dir).items():
            assert data in (old_files.get(name), new_files.get(name)), f"{name} half-written"
        state = index_state(settings, self.embedder)
        assert state in (old_index, new_index), f"{operation}: index is neither old nor new"
        index_is = "old" if state == old_index else "new"

        # The next writer resolves the crash: the folder is then the one the index was built
        # from (a killed add/remove is rolled back unless its generation went live).
        recover(settings)
        files = snapshot(settings.source_dir)
        assert files in (old_files, new_files), f"{operation}: folder neither old nor new"
        folder_is = "old" if files == old_files else "new"
        if operation != "ingest":  # ingest never writes the folder (it is "new" throughout)
            assert folder_is == index_is, f"{operation}: folder {folder_is}, index {index_is}"
        assert corpus_checksum(settings.source_dir) == state[0] or operation == "ingest"
        leftovers = [p.name for p in settings.source_dir.iterdir() if p.name.startswith(".rag-b")]
        assert not leftovers, leftovers
        return Trial(operation, round(kill_after, 2), killed, index_is, folder_is)


def run_trials(bench: CrashBench, count: int, seed: int = 0) -> Report:
    rng = random.Random(seed)
    report = Report()
    started = time.monotonic()
    names = list(OPERATIONS)
    for i in range(count):
        report.trials.append(bench.trial(names[i % len(names)], rng))
    report.seconds = time.monotonic() - started
    return report

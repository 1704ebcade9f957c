"""A report-sized upload against a running server: `python evals/bench_jobs.py`.

What issue #17 asks of background jobs, measured on a scratch copy of the index and
corpus (never the real ones): a ~100,000-character article (the text of a 200-page
report: many distinct paragraphs, all embedded anew) is POSTed to `/v1/documents`; the
script reports how long the `202` took, how long the job ran (with its progress), and the
latency of `/v1/ask` questions sent one after another (`--pause` apart, each worded anew
so none is answered from the query cache) while it ran, against such questions on the idle
server before. Prints one line per figure and writes
evals/results/bench-jobs-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.harness import latency_stats, running_server  # noqa: E402
from rag.config import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "北塔区村党组织书记的待遇提高了多少?",
    "北塔区丰江管家有多少名成员?",
    "网格员主要负责哪些工作?",
    "乡村振兴人才是怎么培养的?",
]
TOWNS = ["白水镇", "青山乡", "石门镇", "柳溪乡", "桃源镇", "金塘乡", "云岭镇", "长岗乡"]
WORKS = ["村道", "水渠", "文化广场", "卫生室", "便民服务站", "养老院", "农家书屋", "污水管网"]


def report_text(chars: int, seed: int = 17) -> str:
    """Distinct paragraphs of report prose, about `chars` characters in all."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    size = 0
    n = 0
    while size < chars:
        n += 1
        town, work = rng.choice(TOWNS), rng.choice(WORKS)
        sentences = [
            f"第{n}项：{town}{rng.randint(2015, 2024)}年投入资金{rng.randint(10, 990)}万元，"
            f"新建{work}{rng.randint(1, 60)}处。",
            f"据{town}党委介绍，项目覆盖{rng.randint(3, 40)}个行政村，"
            f"受益群众约{rng.randint(1, 90)}千人。",
            f"工作组先后走访农户{rng.randint(20, 900)}户，收集意见{rng.randint(5, 200)}条，"
            f"整改问题{rng.randint(1, 99)}个。",
        ]
        paragraph = "".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def ask_ms(http: httpx.Client, question: str) -> tuple[float, int]:
    started = time.perf_counter()
    status = http.post("/v1/ask", json={"question": question}).status_code
    return (time.perf_counter() - started) * 1000, status


def run(settings: Settings, chars: int, idle_asks: int, pause: float) -> dict[str, Any]:
    text = report_text(chars)
    log = Path(tempfile.gettempdir()) / "bench-jobs-serve.log"
    with (
        running_server(settings, log) as server,
        httpx.Client(base_url=server.url, timeout=120, headers=server.headers) as http,
    ):
        idle = [
            ask_ms(http, f"{QUESTIONS[i % len(QUESTIONS)]}（空闲{i}）") for i in range(idle_asks)
        ]
        body = {"title": "某县乡村建设情况报告", "text": text, "source": "report.md"}
        sent = time.perf_counter()
        response = http.post("/v1/documents", json=body)
        accepted_ms = (time.perf_counter() - sent) * 1000
        if response.status_code != 202:
            raise SystemExit(f"upload: {response.status_code} {response.text[:300]}")
        job_id = response.json()["id"]
        during: list[tuple[float, int]] = []
        samples: list[dict[str, int]] = []
        job: dict[str, Any] = response.json()
        while job["state"] in ("queued", "running"):
            # A new wording each time: the query-vector cache cannot answer it, so every
            # ask embeds its question beside the job's batches.
            n = len(during)
            during.append(ask_ms(http, f"{QUESTIONS[n % len(QUESTIONS)]}（第{n}问）"))
            job = http.get(f"/v1/jobs/{job_id}").json()
            samples.append(job["progress"])
            time.sleep(pause)
        waited = time.perf_counter() - sent
    started = datetime.fromisoformat(job["started_at"])
    finished = datetime.fromisoformat(job["finished_at"])
    result = job.get("result") or {}
    return {
        "chars": len(text),
        "state": job["state"],
        "error": job["error"],
        "accepted_ms": round(accepted_ms, 1),
        "job_seconds": round((finished - started).total_seconds(), 1),
        "submit_to_done_seconds": round(waited, 1),
        "progress_total": job["progress"]["total"],
        "progress_samples": len({s["done"] for s in samples}),
        "chunks": sum(d["chunks"] for d in result.get("documents", [])),
        "embedded_chunks": result.get("embedded"),
        "ask_idle_ms": latency_stats([ms for ms, _ in idle]),
        "ask_during_job_ms": latency_stats([ms for ms, _ in during]),
        "ask_during_job_statuses": sorted({status for _, status in during}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=100_000, help="size of the upload")
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="index to copy")
    parser.add_argument("--source", type=Path, default=ROOT / "seeds", help="corpus to copy")
    parser.add_argument("--idle-asks", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between asks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as scratch:
        root = Path(scratch)
        shutil.copytree(args.index, root / "index", ignore=shutil.ignore_patterns("jobs"))
        shutil.copytree(args.source, root / "seeds")
        settings = Settings(source_dir=root / "seeds", index_dir=root / "index", _env_file=None)
        report = run(settings, args.chars, args.idle_asks, args.pause)
    for name, value in report.items():
        print(f"{name}: {value}")
    out = ROOT / "evals" / "results" / f"bench-jobs-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

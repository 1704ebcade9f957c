"""Hostile-size requests against a running server: `python evals/burst.py --url URL`.

Measures what issue #14 reported (on a scratch server, never a shared one):

- the four history requests: one 10,000-character turn, 6 at once of 2,000 characters,
  a chat completion with a 3,000-character earlier message, 100 turns of 2,000 characters;
- normal asks (p50/p99) while 20 maximum-length questions are in flight, against the same
  asks on an idle server.

Random CJK text is the worst case (every character is out of jieba's dictionary). Every
request has a client timeout (`--timeout`), so a server that does not bound its work shows
up as "timeout", not as a hung script. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.harness import latency_stats  # noqa: E402

NORMAL = "北塔区村党组织书记的待遇有哪些保障?"


@dataclass
class Result:
    status: int | str  # HTTP status, or "timeout" / the error's class name
    seconds: float


def cjk(n: int, rng: random.Random) -> str:
    """n random CJK ideographs: out of jieba's dictionary, so the tagger's slowest input."""
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def post(url: str, path: str, body: dict[str, Any], timeout: float, headers: dict) -> Result:
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            status: int | str = client.post(f"{url}{path}", json=body).status_code
    except httpx.TimeoutException:
        status = "timeout"
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return Result(status, round(time.perf_counter() - started, 2))


def concurrently(calls: list[tuple[str, dict[str, Any]]], url: str, timeout: float, headers: dict):
    results: list[Result | None] = [None] * len(calls)

    def run(i: int, path: str, body: dict[str, Any]) -> None:
        results[i] = post(url, path, body, timeout, headers)

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    return threads, results


def normal_asks(url: str, until: threading.Event, headers: dict, timeout: float) -> list[float]:
    """Milliseconds of plain asks, one after another, until `until` is set."""
    times: list[float] = []
    while not until.is_set():
        result = post(url, "/v1/ask", {"question": NORMAL}, timeout, headers)
        times.append(result.seconds * 1000)
        time.sleep(0.05)
    return times


def shown(results: list[Result | None]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        key = str(r.status) if r else "none"
        counts[key] = counts.get(key, 0) + 1
    seconds = [r.seconds for r in results if r]
    return f"statuses {counts}, {min(seconds):.2f}-{max(seconds):.2f} s"


def history_requests(url: str, timeout: float, headers: dict, rng: random.Random) -> None:
    one = post(
        url,
        "/v1/ask",
        {"question": "那它呢?", "history": [{"role": "user", "content": cjk(10_000, rng)}]},
        timeout,
        headers,
    )
    print(f"ask, one 10,000-character history turn: {one.status} after {one.seconds} s")
    chat = post(
        url,
        "/v1/chat/completions",
        {
            "messages": [
                {"role": "user", "content": cjk(3_000, rng)},
                {"role": "user", "content": "那它呢?"},
            ]
        },
        timeout,
        headers,
    )
    print(f"chat, one 3,000-character earlier message: {chat.status} after {chat.seconds} s")
    six = [
        (
            "/v1/ask",
            {"question": "那它呢?", "history": [{"role": "user", "content": cjk(2000, rng)}]},
        )
        for _ in range(6)
    ]
    stop = threading.Event()
    normal: list[float] = []
    watcher = threading.Thread(
        target=lambda: normal.extend(normal_asks(url, stop, headers, timeout))
    )
    threads, results = concurrently(six, url, timeout, headers)
    watcher.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    stats = latency_stats(normal)
    print(
        f"ask x6 at once, 2,000-character history turn each: {shown(results)}; "
        f"normal asks meanwhile p50 {stats['p50']:.0f} ms, max {max(normal or [0]):.0f} ms"
    )
    turns = [{"role": "user", "content": cjk(2000, rng)} for _ in range(100)]
    many = post(url, "/v1/ask", {"question": "那它呢?", "history": turns}, timeout, headers)
    print(f"ask, 100 history turns of 2,000 characters: {many.status} after {many.seconds} s")


def burst(url: str, timeout: float, headers: dict, rng: random.Random, size: int) -> None:
    idle = [post(url, "/v1/ask", {"question": NORMAL}, timeout, headers) for _ in range(20)]
    stats = latency_stats([r.seconds * 1000 for r in idle])
    print(f"normal ask, idle server: p50 {stats['p50']:.0f} ms, p99 {stats['p99']:.0f} ms")
    long_asks = [("/v1/ask", {"question": cjk(size, rng)}) for _ in range(20)]
    stop = threading.Event()
    normal: list[float] = []
    threads, results = concurrently(long_asks, url, timeout, headers)
    time.sleep(0.2)  # let the burst arrive first
    watcher = threading.Thread(
        target=lambda: normal.extend(normal_asks(url, stop, headers, timeout))
    )
    watcher.start()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    stats = latency_stats(normal)
    print(
        f"20 questions of {size} random CJK characters at once: {shown(results)} "
        f"(burst over after {time.perf_counter() - started:.1f} s)"
    )
    print(
        f"normal asks during the burst: n={stats['n']}, p50 {stats['p50']:.0f} ms, "
        f"p99 {stats['p99']:.0f} ms, max {max(normal or [0]):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--question-chars", type=int, default=2000, help="maximum length")
    parser.add_argument("--only", choices=["history", "burst"], default=None)
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    rng = random.Random(14)
    if args.only != "history":
        burst(args.url, args.timeout, headers, rng, args.question_chars)
    if args.only != "burst":
        history_requests(args.url, args.timeout, headers, rng)


if __name__ == "__main__":
    main()

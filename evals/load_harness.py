"""A mixed workload against a running API (tests/test_load.py, evals/load.py).

`clients` concurrent clients loop over asks, searches and document reads for `seconds`,
while one more client re-adds an article every `add_every` seconds (alternating two
versions of the same file, so the corpus keeps its size). Every response is checked
against its own request: an ask answers the question it was sent (with the known fact),
a search echoes its query, a document read returns that document. Any other status or
body counts as an error.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

FACTS = {
    "涪口区有多少名党员干部参与包片包干?": "4288",
    "湖南工程学院和多少家企业建立了产学研合作关系?": "653家",
    "桂阳县新时代文明实践中心由谁担任主任?": "彭生智",
    "浏阳市中医院派到文家市镇大成村的第一书记是谁?": "陶佑朋",
}
QUERIES = ["醴陵玻璃椒种植面积", "党员干部包片包干", "新时代文明实践中心", "产学研合作"]
ADDED = "# 白水镇卫生室建设\n\n白水镇今年新建了{n}个村卫生室，配备了十二名乡村医生。\n"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class LoadReport:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> ms
    errors: list[str] = field(default_factory=list)
    adds: int = 0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def summary(self) -> dict[str, dict[str, float]]:
        rows = {**self.latencies, "all": [x for v in self.latencies.values() for x in v]}
        return {
            kind: {
                "n": len(values),
                "p50_ms": round(percentile(values, 0.5), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "qps": round(len(values) / self.seconds, 1) if self.seconds else 0.0,
            }
            for kind, values in rows.items()
        }

    def table(self) -> str:
        lines = [f"{'kind':<9}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'q/s':>8}"]
        for kind, row in self.summary().items():
            lines.append(
                f"{kind:<9}{row['n']:>7}{row['p50_ms']:>10}{row['p99_ms']:>10}{row['qps']:>8}"
            )
        lines.append(f"adds: {self.adds}, errors: {len(self.errors)}, {self.seconds:.0f}s")
        return "\n".join(lines)


async def _one(http: httpx.AsyncClient, rng: random.Random, doc_ids: list[str]) -> tuple[str, str]:
    """One request of the mix; returns (kind, error or "")."""
    roll = rng.random()
    if roll < 0.5:
        question = rng.choice(list(FACTS))
        response = await http.post("/v1/ask", json={"question": question})
        if response.status_code != 200:
            return "ask", f"ask {response.status_code}: {response.text[:200]}"
        body = response.json()
        if body["question"] != question or FACTS[question] not in body["answer"]:
            return "ask", f"ask mixed up: sent {question!r}, got {body['question']!r}"
        return "ask", ""
    if roll < 0.8:
        query = rng.choice(QUERIES)
        response = await http.get("/v1/search", params={"q": query, "k": 5})
        if response.status_code != 200:
            return "search", f"search {response.status_code}: {response.text[:200]}"
        body = response.json()
        if body["query"] != query or len(body["hits"]) != 5:
            return "search", f"search mixed up: sent {query!r}, got {body['query']!r}"
        return "search", ""
    doc_id = rng.choice(doc_ids)
    response = await http.get(f"/v1/documents/{doc_id}")
    if response.status_code != 200 or response.json()["doc_id"] != doc_id:
        return "document", f"document {doc_id}: {response.status_code} {response.text[:200]}"
    return "document", ""


async def _client(
    http: httpx.AsyncClient, seed: int, until: float, doc_ids: list[str], report: LoadReport
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            kind, error = await _one(http, rng, doc_ids)
        except httpx.HTTPError as exc:
            kind, error = "error", f"{type(exc).__name__}: {exc}"
        report.latencies.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        if error:
            report.errors.append(error)


async def _adder(http: httpx.AsyncClient, until: float, every: float, report: LoadReport) -> None:
    n = 0
    while time.monotonic() + every < until:
        await asyncio.sleep(every)
        n += 1
        text = ADDED.format(n=3 + n % 2)
        response = await http.post(
            "/v1/documents?wait=true",
            json={"title": "白水镇卫生室建设", "text": text, "source": "load.md"},
        )
        if response.status_code in (200, 201):
            report.adds += 1
        else:
            report.errors.append(f"add {response.status_code}: {response.text[:200]}")


async def _run(url: str, seconds: float, clients: int, add_every: float, seed: int) -> LoadReport:
    report = LoadReport()
    # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s):
    # otherwise a request can race the server closing the connection (a ReadError).
    limits = httpx.Limits(
        max_connections=clients + 1, max_keepalive_connections=clients + 1, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        listed = await http.get("/v1/documents")
        documents = listed.json().get("documents", []) if listed.status_code == 200 else []
        doc_ids = [d["doc_id"] for d in documents if d["source"] != "load.md"] or ["none"]
        started = time.monotonic()
        until = started + seconds
        tasks = [_client(http, seed + i, until, doc_ids, report) for i in range(clients)]
        await asyncio.gather(*tasks, _adder(http, until, add_every, report))
        report.seconds = time.monotonic() - started
    return report


def run_load(
    url: str, seconds: float, clients: int = 32, add_every: float = 3.0, seed: int = 0
) -> LoadReport:
    return asyncio.run(_run(url, seconds, clients, add_every, seed))

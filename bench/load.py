"""A small HTTP/1.1 load generator on asyncio streams: requests are serialised up front so
the client spends its CPU on sending, not on building or signing."""

import asyncio
import statistics
import time
from dataclasses import dataclass


def raw_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _send(host: str, port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # until the server closes (every request asks Connection: close)
        return int(status_line.split()[1])
    finally:
        writer.close()


@dataclass
class Result:
    count: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    # open loop: when request i was due, wall clock (time.time()): started_wall + i / rate
    started_wall: float = 0.0

    @property
    def throughput(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _tally(statuses: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


async def _closed_loop(host, port, requests: list[bytes], concurrency: int) -> Result:
    queue = list(reversed(requests))
    latencies, statuses = [], []

    async def worker():
        while queue:
            request = queue.pop()
            began = time.perf_counter()
            statuses.append(await _send(host, port, request))
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(len(requests), time.perf_counter() - began, latencies, _tally(statuses))


async def _open_loop(host, port, requests: list[bytes], rate: float) -> Result:
    """Each request is due at a fixed time; latency counts from when it was due, so a slow
    server cannot hide its queueing (no coordinated omission). Latencies are kept in the
    order the requests were due."""
    latencies: list[float] = [0.0] * len(requests)
    statuses = []
    start = time.perf_counter() + 0.05
    started_wall = time.time() + 0.05

    async def one(index, request):
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        statuses.append(await _send(host, port, request))
        latencies[index] = (time.perf_counter() - due) * 1000

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    seconds = time.perf_counter() - start
    return Result(len(requests), seconds, latencies, _tally(statuses), started_wall)


def slow_by_second(result: Result, rate: float, threshold_ms: float) -> dict[int, int]:
    """Open loop: how many requests took longer than `threshold_ms`, by the second (from
    the start) they were due in; shows whether the slow ones came in one stall."""
    out: dict[int, int] = {}
    for index, latency in enumerate(result.latencies_ms):
        if latency > threshold_ms:
            second = int(index / rate)
            out[second] = out.get(second, 0) + 1
    return out


def closed_loop(host, port, requests, concurrency) -> Result:
    return asyncio.run(_closed_loop(host, port, requests, concurrency))


def open_loop(host, port, requests, rate) -> Result:
    return asyncio.run(_open_loop(host, port, requests, rate))

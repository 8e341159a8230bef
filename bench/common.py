"""Helpers shared by the HTTP benchmarks: a gunicorn server, a concurrent load
generator with keep-alive connections, and percentiles."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def start_gunicorn(port: int, env: dict, workers: int, threads: int = 1) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--log-level", "warning",
               "--backlog", "2048", "--keep-alive", "5"]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    wait_for_port(port)
    time.sleep(1.0)  # let every worker import Django
    return process


def server_cpu(arbiter_pid: int) -> dict[int, float]:
    """pid → user+system CPU seconds of the gunicorn workers and of this database's
    PostgreSQL backends (a backend that appears during a phase counts from zero)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        pids = [row[0] for row in cursor.fetchall()]
    pids += gunicorn_workers(arbiter_pid)
    return {pid: seconds for pid in pids if (seconds := process_cpu_seconds(pid)) is not None}


def gunicorn_workers(arbiter_pid: int) -> set[int]:
    children = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # exited meanwhile
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def cpu_spent(before: dict[int, float], after: dict[int, float], only: set[int] | None = None) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items() if only is None or pid in only)


def analyze_tables() -> None:
    """ANALYZE this database, as autovacuum would: a PostgreSQL running with autovacuum off
    (as on these machines) keeps the planner's "empty table" statistics for ever, and
    plans scans of whole tables as if they were empty."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class LoadResult:
    sent: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        return {"requests": self.sent, "seconds": round(self.seconds, 3), "per_second": round(self.per_second, 1),
                "p50_ms": round(percentile(self.latencies_ms, 50), 2),
                "p99_ms": round(percentile(self.latencies_ms, 99), 2),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


def run_load(port: int, requests_for: Callable[[int], list[tuple[str, bytes, dict]]], concurrency: int) -> LoadResult:
    """Each sender thread i sends its list of (path, body, headers) POSTs over one keep-alive connection."""
    plans = [requests_for(i) for i in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: list[dict[int, int]] = [{} for _ in range(concurrency)]
    barrier = threading.Barrier(concurrency + 1)

    def sender(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        for path, body, headers in plans[i]:
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            latencies[i].append((time.perf_counter() - started) * 1000)
            statuses[i][status] = statuses[i].get(status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    merged: dict[int, int] = {}
    for counts in statuses:
        for status, count in counts.items():
            merged[status] = merged.get(status, 0) + count
    return LoadResult(sent=sum(len(p) for p in plans), seconds=seconds,
                      latencies_ms=[value for chunk in latencies for value in chunk], statuses=merged)

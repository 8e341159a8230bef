"""Subprocess probe for tests/test_redis.py: gunicorn-like cold starts against Redis.

Forked children each make their first Redis call from 8 threads at once; then the parent uses
Redis and forks again, and both sides keep going. Prints {"errors", "sample", "missing"} as JSON:
`missing` is hits that were not counted. Usage: python tests/redis_fork_probe.py <key prefix>.
"""
import json
import os
import sys
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402

django.setup()

from sellers.api_auth import window_counts  # noqa: E402

PREFIX, THREADS, HITS = sys.argv[1], 8, 20


def burst(tag: str) -> list[str]:
    errors, barrier = [], threading.Barrier(THREADS)

    def hit():
        barrier.wait()
        for _ in range(HITS):
            try:
                window_counts(f"{PREFIX}:{tag}", 1, 60)
            except Exception as exc:  # noqa: BLE001 - counted, not raised
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=hit) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def in_children(tag: str, count: int = 4) -> list[str]:
    read, write = os.pipe()
    pids = []
    for child in range(count):
        pid = os.fork()
        if pid == 0:
            os.write(write, (json.dumps(burst(f"{tag}{child}")) + "\n").encode())
            os._exit(0)
        pids.append(pid)
    parent_errors = burst(f"{tag}-parent")  # the parent works at the same time as its children
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(write)
    with os.fdopen(read) as results:
        return parent_errors + [error for line in results.read().splitlines() for error in json.loads(line)]


def main():
    import redis
    from django.conf import settings

    pid = os.fork()  # a cold child whose first use is concurrent, while nothing else ran before
    if pid == 0:
        os._exit(len(burst("cold")) and 1)
    _, status = os.waitpid(pid, 0)
    errors = [] if os.waitstatus_to_exitcode(status) == 0 else ["a cold child failed"]
    errors += in_children("warm")  # the parent has a client now: fork after use
    tags = ["cold"] + [f"warm{child}" for child in range(4)] + ["warm-parent"]
    counted = redis.Redis.from_url(settings.REDIS_URL)
    total = sum(int(counted.get(f"{PREFIX}:{tag}:1") or 0) for tag in tags)
    counted.delete(*[f"{PREFIX}:{tag}:1" for tag in tags])
    print(json.dumps({"errors": len(errors), "sample": errors[:3], "missing": len(tags) * THREADS * HITS - total}))


main()

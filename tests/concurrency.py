"""Run callables at the same instant in threads, each on its own DB connection."""
import threading

from django.db import connection


def run_at_once(*callables, timeout: float = 60.0) -> list:
    """Start every callable together (a barrier), wait for all, and return their results
    in order. Raises the first error any of them raised."""
    barrier = threading.Barrier(len(callables))
    results: list = [None] * len(callables)
    errors: list[BaseException] = []

    def runner(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, fn)) for i, fn in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    return results

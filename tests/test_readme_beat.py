"""README's "Periodic work (Celery beat)" table names every BEAT_SCHEDULE entry with its task
and the queue it is routed to, so the documented schedule cannot drift from the real one."""
import re
from pathlib import Path

from config.celery_app import BEAT_SCHEDULE, TICKS_QUEUE, app

README = Path(__file__).resolve().parent.parent / "README.md"


def _table_rows() -> dict[str, list[str]]:
    text = README.read_text()
    section = text[text.index("## Periodic work (Celery beat)"):]
    section = section[:section.index("\n## ", 1)]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 5:
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_beat_entry_is_in_the_readme_table_with_its_task_and_queue():
    rows = _table_rows()
    assert set(rows) == set(BEAT_SCHEDULE)
    router = app.amqp.router
    for name, entry in BEAT_SCHEDULE.items():
        _, task, _every, queue, _what = rows[name]
        assert task == f"`{entry['task']}`", name
        routed = router.route(entry.get("options", {}), entry["task"])["queue"].name
        assert queue == (f"`{TICKS_QUEUE}`" if routed == TICKS_QUEUE else "default"), name
        assert re.search(r"\d|hourly|daily", _every), name

"""`make run` keeps serving when one of its processes dies.

The processes are the Procfile's, rendered into supervisord's config by `make supervisor-conf` (what
`make run` starts) and run as on a laptop: SQLite and the filesystem broker in a var/ of the test's own.
The Celery worker is SIGKILLed; supervisord restarts it and /healthz answers 200 all the while."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import free_port

pytestmark = [pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def make_run(tmp_path):
    web, sandbox, nano_ws, smtp = free_port(), free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(tmp_path), WEB_PORT=str(web), SANDBOX_PORT=str(sandbox),
               SANDBOX_NANO_WS_PORT=str(nano_ws), SANDBOX_URL=f"http://127.0.0.1:{sandbox}",
               SANDBOX_SMTP_PORT=str(smtp), EMAIL_URL=f"smtp://127.0.0.1:{smtp}",
               SITE_URL=f"http://127.0.0.1:{web}", DEBUG="true", SANDBOX_MODE="true",
               PATH=f"{BIN}:{os.environ['PATH']}")
    run_dir = tmp_path / "run"
    subprocess.run(["make", "--no-print-directory", "-s", "supervisor-conf", f"RUN_DIR={run_dir}"],
                   cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    conf = run_dir / "kassa.conf"
    supervisord = subprocess.Popen([BIN / "supervisord", "--configuration", conf], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def ctl(*args) -> str:
        return subprocess.run([BIN / "supervisorctl", "--configuration", conf, *args], env=env,
                              capture_output=True, text=True).stdout.strip()

    ctl.env, ctl.sandbox_url = env, f"http://127.0.0.1:{sandbox}"
    try:
        yield f"http://127.0.0.1:{web}", ctl
    finally:
        supervisord.send_signal(signal.SIGTERM)
        try:
            supervisord.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(supervisord.pid, signal.SIGKILL)


def healthz(url: str) -> int:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code
    except requests.RequestException:
        return 0


def running_pids(ctl) -> dict[str, str]:
    return {line.split()[0]: line.split("pid ")[1].split(",")[0]
            for line in ctl("status").splitlines() if " RUNNING " in line}


def services_but_worker(pids: dict[str, str]) -> dict[str, str]:
    # The banner is a one-shot program (it prints the demo logins, then exits), not a service.
    return {name: pid for name, pid in pids.items() if name not in ("worker", "banner")}


def test_a_killed_worker_comes_back_while_healthz_stays_up(make_run):
    url, ctl = make_run
    wait_for(lambda: healthz(url) == 200, 60, "/healthz under make run")
    wait_for(lambda: {"web", "worker", "ticks", "beat", "sandbox", "nano_ws"} <= set(running_pids(ctl)),
             60, f"every process RUNNING: {ctl('status')}")
    before = running_pids(ctl)

    os.kill(int(before["worker"]), signal.SIGKILL)
    answers = []

    def worker_is_back() -> bool:
        answers.append(healthz(url))
        now = running_pids(ctl)
        return now.get("worker") not in (None, before["worker"])

    wait_for(worker_is_back, 30, "supervisord to restart the worker")
    after = running_pids(ctl)
    assert services_but_worker(after) == services_but_worker(before), "nothing else was restarted"
    assert answers and set(answers) == {200}, f"/healthz while the worker was down: {answers}"


def test_email_reaches_the_sandbox_inbox(make_run):
    """What `make run` wires up: EMAIL_URL points at the sandbox process's SMTP catcher."""
    _url, ctl = make_run
    inbox = f"{ctl.sandbox_url}/mail/messages.json"

    def inbox_answers() -> bool:
        try:
            return requests.get(inbox, timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(inbox_answers, 60, "the sandbox inbox under make run")
    subprocess.run([sys.executable, "manage.py", "sendtestemail", "shopper@example.com"], cwd=ROOT, env=ctl.env,
                   check=True, capture_output=True)
    [message] = requests.get(inbox, timeout=5).json()
    assert message["to"] == ["shopper@example.com"] and "Test email" in message["subject"]
    assert requests.get(f"{ctl.sandbox_url}/mail/", timeout=5).ok

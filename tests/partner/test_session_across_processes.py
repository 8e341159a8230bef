"""A partner shopper's session holds in every web process (issue 17 item 11).

Two gunicorn processes on free ports share one file SQLite database and have no Redis,
so each has its own local-memory cache (as `make run` without REDIS_URL). The partner is
the sandbox process. Right after signing in on one process, six parallel requests
alternating between the two all see the signed-in shopper.
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.conftest import ROOT, free_port, wait_for

pytestmark = pytest.mark.integration


def _web_process(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    try:
        wait_for(up, 60, "a web process")
    except AssertionError:
        process.kill()
        raise AssertionError(process.stderr.read().decode()[-2000:]) from None
    return process, url


@pytest.fixture
def two_web_processes(sandbox_process, tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "SQLITE_TEST_NAME", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": "true", "SANDBOX_MODE": "true",
        "SECRET_KEY": "test-two-processes-" + "k" * 40, "VAR_DIR": str(tmp_path),
        "SANDBOX_URL": sandbox_process, "PARTNER_VERIFY_URL": f"{sandbox_process}/partner/verify",
        "PARTNER_API_KEY": "sandbox_partner_key",
    })
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    processes = [_web_process(env) for _ in range(2)]
    yield [url for _process, url in processes]
    for process, _url in processes:
        process.terminate()
        process.wait(10)


def test_six_parallel_requests_across_two_processes_all_see_the_shopper(two_web_processes, sandbox_process):
    first, second = two_web_processes
    token = requests.post(f"{sandbox_process}/partner/_issue", json={"id": "multi@example.com"},
                          timeout=5).json()["token"]
    entry = requests.get(f"{first}/me/payments/?partner_token={token}", allow_redirects=False, timeout=10)
    assert entry.status_code == 302
    cookie = {"sessionid": entry.cookies["sessionid"]}

    def fetch(url):
        return requests.get(f"{url}/me/payments/", cookies=cookie, timeout=30)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(fetch, [first, second] * 3))
    assert [answer.status_code for answer in answers] == [200] * 6
    assert all("multi@example.com" in answer.text for answer in answers)

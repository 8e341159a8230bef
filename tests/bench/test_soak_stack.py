"""The soak's stack shares the machine with other runs (make run, tests, other soaks): every port it listens on
is a free one it picked, and Kassa's email goes to its own sandbox's catcher. No process is started here."""
import subprocess
import sys

from bench.soak.stack import Stack


def test_every_port_is_picked_free_and_mail_goes_to_the_soaks_own_catcher(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://127.0.0.1:7025")  # what make exports for make run's catcher
    monkeypatch.setenv("SANDBOX_SMTP_PORT", "7025")
    stack = Stack()
    env, sandbox = stack.env(), stack.programs()["sandbox"]

    assert len(set(stack.ports.values())) == len(stack.ports)
    assert env["EMAIL_URL"] == f"smtp://127.0.0.1:{stack.ports['smtp']}"
    assert env["SANDBOX_SMTP_PORT"] == str(stack.ports["smtp"])
    assert f"--smtp-port {stack.ports['smtp']}" in sandbox


def test_each_broker_writes_its_own_committed_result_unless_told_otherwise():
    from bench.soak.__main__ import result_path

    assert result_path("redis", None).name == "soak.json"
    assert result_path("rabbitmq", None).name == "soak_rabbitmq.json"  # never overwrites the Redis run
    assert str(result_path("rabbitmq", "var/soak-ci.json")) == "var/soak-ci.json"


def test_soak_database_also_names_the_rabbitmq_vhost_so_two_soaks_never_share_a_broker():
    probe = ("from bench.soak.stack import Stack; s = Stack(broker='rabbitmq'); "
             "print(s.env()['CELERY_BROKER_URL'], s.database_url.rsplit('/', 1)[1])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={"SOAK_DATABASE": "kassa_soak_b", "PATH": ""}).stdout.split()
    assert out == ["amqp://guest:guest@127.0.0.1:5672/kassa_soak_b", "kassa_soak_b"]

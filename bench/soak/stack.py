"""The soak's production-shaped Kassa: every piece its own OS process under supervisord.

Two gunicorn masters on two ports (so killing one leaves the other serving), two Celery workers on
the default queue, the ticks worker, one beat, the Nano listener, the sandbox, and a redis-server of
the soak's own on a free port. PostgreSQL is the machine's, in a database of the soak's own
(`kassa_soak`, or SOAK_DATABASE; dropped and created each run). Config and logs live in var/soak/.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.common import ROOT, free_port

RUN_DIR = ROOT / "var" / "soak"
BIN = Path(sys.executable).parent
DATABASE = os.environ.get("SOAK_DATABASE", "kassa_soak")
PG_ADMIN_URL = os.environ.get("SOAK_PG_URL", "postgres://postgres@127.0.0.1:5432")
# The RabbitMQ vhost has the database's name, so SOAK_DATABASE keeps two soaks apart on both servers.
RABBIT_VHOST = DATABASE
RABBIT_URL = f"amqp://guest:guest@127.0.0.1:5672/{RABBIT_VHOST}"
WEB_PROCESSES = ("web1", "web2")
WORKERS = ("worker1", "worker2")


class BrokerUnavailable(RuntimeError):
    """BROKER=rabbitmq on a machine without rabbitmqctl: the soak is skipped, saying why."""


@dataclass
class Stack:
    broker: str = "redis"
    ports: dict[str, int] = field(default_factory=dict)
    supervisord: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        for name in ("web1", "web2", "sandbox", "nano_ws", "smtp", "redis"):
            port = free_port()
            while port in self.ports.values():  # a port freed a moment ago may come back
                port = free_port()
            self.ports[name] = port
        self.secret_key = secrets.token_urlsafe(50)

    # --- addresses ---------------------------------------------------------------------------
    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def web_urls(self) -> list[str]:
        return [self.url(name) for name in WEB_PROCESSES]

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    @property
    def database_url(self) -> str:
        return f"{PG_ADMIN_URL}/{DATABASE}"

    def env(self) -> dict[str, str]:
        """What every Kassa process of the soak reads: production settings, sandbox providers."""
        sandbox = self.url("sandbox")
        env = {
            "DEBUG": "false", "SANDBOX_MODE": "true", "SECRET_KEY": self.secret_key,
            "SECURE_SSL_REDIRECT": "false",  # loopback HTTP; TLS ends at a proxy in production
            "ALLOWED_HOSTS": "127.0.0.1,localhost", "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": RABBIT_URL if self.broker == "rabbitmq" else "",
            "VAR_DIR": str(RUN_DIR), "SANDBOX_STATE_DIR": str(RUN_DIR / "sandbox"),
            "SANDBOX_URL": sandbox, "SANDBOX_PORT": str(self.ports["sandbox"]),
            "SANDBOX_NANO_WS_PORT": str(self.ports["nano_ws"]), "SITE_URL": self.url("web1"),
            # Kassa's email goes to this sandbox's own catcher, never to a make run's on the default port.
            "SANDBOX_SMTP_PORT": str(self.ports["smtp"]), "EMAIL_URL": f"smtp://127.0.0.1:{self.ports['smtp']}",
            "SANDBOX_RAZORPAY_WEBHOOK_URL": f"{self.url('web1')}/webhooks/razorpay/",
            "SANDBOX_COINPAY_WEBHOOK_URL": f"{self.url('web2')}/webhooks/coinpay/",
            # Short payment lives, so expiry, late money and slot release all happen within a run.
            "PAYMENT_EXPIRY_MINUTES": "1", "PAYMENT_EXPIRY_GRACE_SECONDS": "15",
            "GATEWAY_POLL_AFTER_MINUTES": "1", "REFUND_RECONCILE_AFTER_SECONDS": "20",
            # One client address drives all the load: per-client limits would only measure themselves.
            "SHOP_THROTTLE_RATE": "", "API_THROTTLE_RATE": "100000/min", "AXES_FAILURE_LIMIT": "1000",
            "WEBHOOK_PRIVATE_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }
        return {**os.environ, **env}

    # --- the database and broker of the soak's own ---------------------------------------------
    def fresh_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as connection:
            connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [DATABASE])
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
            connection.execute(f'CREATE DATABASE "{DATABASE}"')

    def fresh_rabbitmq_vhost(self) -> None:
        """A vhost of the soak's own (fresh each run), with the guest user's permissions on it."""
        if not shutil.which("rabbitmqctl"):
            raise BrokerUnavailable("BROKER=rabbitmq needs rabbitmqctl (and RabbitMQ on 127.0.0.1:5672)")
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", RABBIT_VHOST], capture_output=True)
        for command in (["add_vhost", RABBIT_VHOST],
                        ["set_permissions", "-p", RABBIT_VHOST, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", "-q", *command], check=True, capture_output=True, timeout=60)

    # --- processes ---------------------------------------------------------------------------
    def programs(self) -> dict[str, str]:
        celery = f"{BIN}/celery -A config"
        worker = "worker --loglevel WARNING --without-gossip --without-mingle"
        gunicorn = f"{BIN}/gunicorn config.wsgi --workers 2 --threads 4 --log-level warning --graceful-timeout 5"
        # Keep idle client connections longer than the users' think time: with gunicorn's 2 s default the
        # load would race it and see its own reused connections closed (not something Kassa did).
        gunicorn += " --keep-alive 30"
        return {
            "redis": (f"redis-server --port {self.ports['redis']} --bind 127.0.0.1 --save '' --appendonly no "
                      f"--dir {RUN_DIR}"),
            "sandbox": (f"{sys.executable} manage.py sandbox serve --quiet --port {self.ports['sandbox']} "
                        f"--nano-ws-port {self.ports['nano_ws']} --smtp-port {self.ports['smtp']} "
                        f"--state-dir {RUN_DIR / 'sandbox'}"),
            "web1": f"{gunicorn} --bind 127.0.0.1:{self.ports['web1']}",
            "web2": f"{gunicorn} --bind 127.0.0.1:{self.ports['web2']}",
            "worker1": f"{celery} {worker} -Q celery --hostname worker1@%%h --concurrency 2",
            "worker2": f"{celery} {worker} -Q celery --hostname worker2@%%h --concurrency 2",
            "ticks": f"{celery} {worker} -Q ticks --hostname ticks@%%h --concurrency 1",
            "beat": f"{celery} beat --loglevel WARNING --scheduler django_celery_beat.schedulers:DatabaseScheduler",
            "nano_ws": f"{sys.executable} manage.py nano_listen",
        }

    def write_config(self) -> Path:
        sections = [
            "; Generated by the soak (bench/soak/stack.py) for one run.",
            "[supervisord]", "nodaemon=true", f"logfile={RUN_DIR}/supervisord.log", "loglevel=warn",
            f"pidfile={RUN_DIR}/supervisord.pid", "",
            "[unix_http_server]", f"file={RUN_DIR}/supervisor.sock", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", f"serverurl=unix://{RUN_DIR}/supervisor.sock", "",
        ]
        for priority, (name, command) in enumerate(self.programs().items(), start=1):
            sections += [
                f"[program:{name}]", f"command={command}", f"directory={ROOT}", f"priority={priority}",
                "autorestart=true", "startsecs=1", "startretries=100", "stopasgroup=true", "killasgroup=true",
                "stopwaitsecs=10", f"stdout_logfile={RUN_DIR}/{name}.log", "stdout_logfile_maxbytes=20MB",
                "redirect_stderr=true", "",
            ]
        path = RUN_DIR / "kassa-soak.conf"
        path.write_text("\n".join(sections))
        return path

    def start(self) -> None:
        config = self.write_config()
        self.supervisord = subprocess.Popen([f"{BIN}/supervisord", "--configuration", str(config)], cwd=ROOT,
                                            env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.wait_healthy(timeout=120)

    def ctl(self, *args: str, check: bool = False) -> str:
        result = subprocess.run([f"{BIN}/supervisorctl", "--configuration", str(RUN_DIR / "kassa-soak.conf"), *args],
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"supervisorctl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def pid(self, name: str) -> int:
        try:
            return int(self.ctl("pid", name).strip())
        except ValueError:
            return 0

    def kill(self, name: str) -> int:
        """SIGKILL a program's whole process group (supervisord starts each in its own group), the way an
        OOM kill or a lost host ends it: no shutdown handlers run. Returns the pid killed (0: none)."""
        pid = self.pid(name)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                return 0
        return pid

    def running(self, name: str) -> bool:
        return "RUNNING" in self.ctl("status", name)

    def healthy(self, name: str) -> bool:
        path = "/health" if name == "sandbox" else "/healthz"
        try:
            return requests.get(self.url(name) + path, timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = ["sandbox", *WEB_PROCESSES]
        while waiting and time.monotonic() < deadline:
            waiting = [name for name in waiting if not self.healthy(name)]
            time.sleep(0.5)
        if waiting:
            raise RuntimeError(f"not healthy after {timeout}s: {', '.join(waiting)} (logs in {RUN_DIR})")

    def stop(self) -> None:
        if self.supervisord is None:
            return
        self.supervisord.send_signal(signal.SIGTERM)
        try:
            self.supervisord.wait(60)
        except subprocess.TimeoutExpired:
            self.supervisord.kill()
        self.supervisord = None

"""Gunicorn settings for Kassa's web process in production (`gunicorn -c deploy/gunicorn.conf.py config.wsgi`).

Single-threaded workers, about 4 per core, measured best for Kassa's API and webhook ingest (README
"Benchmarks"): a request waiting on PostgreSQL blocks only its own process. Override per host with
GUNICORN_WORKERS / GUNICORN_THREADS / GUNICORN_BIND.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # behind the TLS-terminating proxy
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 4))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A provider call waits at most 10 s (the providers' timeout); a request past 30 s is stuck: replace the worker.
timeout = 30
graceful_timeout = 20
keepalive = 5
backlog = 2048
# Recycle workers now and then so a slow leak cannot grow for ever (jitter: never all at once).
max_requests = 10000
max_requests_jitter = 1000
# The proxy sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER); trust it only from the proxy's address.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # Kassa's RequestLogMiddleware writes one line per request, without query strings
errorlog = "-"
loglevel = "warning"

"""The benches' own PostgreSQL databases: created on first use (no Django needed yet)."""
from __future__ import annotations

from urllib.parse import urlsplit


def ensure_database(url: str) -> None:
    """CREATE DATABASE when the bench's own database does not exist yet (PostgreSQL URLs only)."""
    import psycopg

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')

"""Kassa's settings plus the benchmarks' own URL conf: the bare comparison views exist
only in processes the benches start (DJANGO_SETTINGS_MODULE=bench.settings)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

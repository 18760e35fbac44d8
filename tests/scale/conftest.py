"""The `scale` marker: tests that start PostgreSQL, Redis and Celery workers (run with `make test-scale`).

Registered here as well as in pyproject so this folder works on its own; and skipped unless the
`-m` expression names `scale`, so a plain `pytest tests/` never starts services by accident.
"""

from __future__ import annotations

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "scale: starts PostgreSQL, Redis and Celery workers (make test-scale)")


def pytest_collection_modifyitems(config, items):
    if "scale" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="scale-out test: run with `make test-scale` (pytest -m scale)")
    for item in items:
        if item.get_closest_marker("scale"):
            item.add_marker(skip)

"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Qt must never look for a display in tests (set before anything imports Qt).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: The key tests use; a security test scans everything the app writes for it.
TEST_KEY = "es-test-key-5f1c9a7e2b"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep every test away from the user's data dir, keys and Cohere settings."""
    data = tmp_path_factory.mktemp("data")
    saved = {k: os.environ.get(k) for k in ("EMBED_STUDIO_DATA_DIR", "CO_API_KEY", "CO_API_URL")}
    os.environ["EMBED_STUDIO_DATA_DIR"] = str(data)
    os.environ.pop("CO_API_KEY", None)
    os.environ.pop("CO_API_URL", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where a test's store lives."""
    return tmp_path / "store.sqlite3"

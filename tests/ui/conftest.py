"""Qt test fixtures: every test must leave no task, thread or pool running."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool

from desktop.workers.tasks import TaskPool
from tests.conftest import TEST_KEY
from tests.secrets_check import files_containing


@pytest.fixture(autouse=True)
def _key_never_leaks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever a window test does, the key reaches no log and no file (the store included)."""
    caplog.set_level(logging.DEBUG)
    yield
    assert TEST_KEY not in caplog.text
    assert not files_containing(tmp_path, TEST_KEY)
    assert not files_containing(Path(os.environ["EMBED_STUDIO_DATA_DIR"]), TEST_KEY)


@pytest.fixture(autouse=True)
def _no_leaked_threads(qapp: object) -> Iterator[None]:
    """Fail a test that leaves a worker task, a Qt pool thread or a Python thread running."""
    before = set(threading.enumerate())
    yield
    busy = [pool.objectName() for pool in TaskPool.every_pool() if pool.busy]
    assert not busy, f"task pools still busy after the test: {busy}"
    assert QThreadPool.globalInstance().waitForDone(5000), "a global pool task outlived its test"
    for pool in TaskPool.every_pool():
        assert pool.wait(5000), f"{pool.objectName()} still has a running thread"
    # A _DummyThread stands for a Qt pool thread that ran Python code (it never ends and cannot
    # be joined); those threads were waited for through their pools above.
    leaked = [
        t
        for t in set(threading.enumerate()) - before
        if t.is_alive() and not isinstance(t, threading._DummyThread)
    ]
    for thread in leaked:
        thread.join(5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads outlived the test: {still}"

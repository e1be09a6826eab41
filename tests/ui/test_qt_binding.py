"""The Qt binding itself must not corrupt the interpreter (PySide6 6.12.0 did on Python 3.11)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_calls_returning_nothing_do_not_leak_references_to_none() -> None:
    """Each lost reference to None brings the process closer to a none_dealloc abort."""
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(10_000):
        obj.setObjectName("x")
    assert sys.getrefcount(None) - before < 100

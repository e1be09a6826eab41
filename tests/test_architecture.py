"""``desktop.core`` stays plain Python: no Qt, no emulator, no window or worker code, ever."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import desktop.core

CORE = Path(desktop.core.__file__).resolve().parent
#: Top-level packages and desktop subpackages that desktop.core must never import.
FORBIDDEN = ("PySide6", "shiboken6", "desktop.emulator", "desktop.ui", "desktop.workers")
_IMPORT_CALLS = {"import_module", "__import__"}


def _is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def _core_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages([str(CORE)], prefix="desktop.core.")
        if not info.name.rsplit(".", 1)[-1].startswith("__")
    )


def _resolve(node: ast.ImportFrom, module_name: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    parts = module_name.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def forbidden_imports(source: str, module_name: str, is_package: bool = False) -> list[str]:
    """Every import of a forbidden module in *source*, wherever it is (functions included)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module_name, is_package)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0] if node.args else None
            if called not in _IMPORT_CALLS or not isinstance(first, ast.Constant):
                continue
            names = [str(first.value)]
        else:
            continue
        hits = [n for n in names if _is_forbidden(n)]
        if hits:
            found.append(f"line {node.lineno}: {hits[0]}")
    return found


def test_the_core_has_modules_to_check() -> None:
    modules = _core_modules()
    for expected in ("models", "images", "prepare", "rules", "payload", "batching", "assess"):
        assert f"desktop.core.{expected}" in modules


def test_importing_every_core_module_loads_no_qt_and_no_emulator() -> None:
    modules = _core_modules()
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6') "
        "or m == 'desktop.emulator' or m.startswith('desktop.emulator.'))\n"
        "print(json.dumps(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: p.relative_to(CORE).as_posix()
)
def test_no_core_file_imports_qt_the_emulator_the_window_or_workers(path: Path) -> None:
    relative = path.relative_to(CORE).with_suffix("")
    is_package = relative.name == "__init__"
    parts = relative.parts[:-1] if is_package else relative.parts
    module_name = ".".join(("desktop", "core", *parts))
    source = path.read_text(encoding="utf-8")
    assert forbidden_imports(source, module_name, is_package) == []


@pytest.mark.parametrize(
    "source",
    [
        "import PySide6",
        "from PySide6.QtCore import QObject",
        "import shiboken6 as sb",
        "from desktop import emulator",
        "from desktop.emulator.server import Emulator",
        "import desktop.ui.window",
        "from desktop.workers import pool",
        "def later():\n    from PySide6 import QtWidgets\n    return QtWidgets\n",
        "class A:\n    def m(self):\n        import desktop.emulator\n",
        "import importlib\nqt = importlib.import_module('PySide6.QtGui')\n",
        "mod = __import__('shiboken6')\n",
        "from .. import ui\n",
        "from ..emulator import Emulator\n",
    ],
)
def test_the_guard_catches_every_way_of_importing(source: str) -> None:
    assert forbidden_imports(source, "desktop.core.sample") != []


@pytest.mark.parametrize(
    "source",
    [
        "import numpy\nfrom PIL import Image\n",
        "from desktop.core.models import Settings\n",
        "from . import models\n",
        "import desktop.core.rules\n",
        "# import PySide6 in a comment is fine\nx = 'from PySide6 import QtCore'\n",
        "from desktop.emulatorx import thing\n",
    ],
)
def test_the_guard_lets_plain_imports_through(source: str) -> None:
    assert forbidden_imports(source, "desktop.core.sample") == []

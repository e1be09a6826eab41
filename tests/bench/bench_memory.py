"""Benchmark: how much memory does the window hold with 10,000 images listed with thumbnails?

Run by hand from the project root: ``python tests/bench/bench_memory.py [--images 10000]``.

Each measurement runs in a fresh child process, so nothing one leaves behind counts in another:

* baseline: the whole main window, shown, with no images;
* a tenth of the images (1,000 by default), to show how memory grows with the list;
* every image (10,000 by default).

In each child the window adds one folder (as a drop does), waits until every item is read,
judged and prepared, then asks for the thumbnail of every item (as if the user scrolled through
the whole grid) and waits for all of them. It then reports its resident memory (``VmRSS``) and
the peak (``VmHWM``) from ``/proc/self/status``. The parent prints both, their ratio to the
baseline, the memory each image costs, and the target (10,000 images under 600 MB resident).
Nothing is asserted.

The corpus is the window benchmark's (``bench_ui.py``), scaled to the image count and reused by
later runs: camera-like 12 MP JPEGs, 1080p JPEGs, VGA PNGs and SVGA JPEGs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Run as a script from the project root: make `tests` importable next to `desktop`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TARGET_MB: Final = 600.0


def _status_mb(field: str) -> float:
    """A ``VmRSS``-like field of this process, in MB (10^6 bytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"{field} is not in /proc/self/status")


def measure_child(folder: str | None) -> dict[str, float]:
    """In this process: the window with *folder* added (or none), every thumbnail shown."""
    import tempfile

    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from desktop.ui.app_settings import AppSettings
    from desktop.ui.main_window import MainWindow
    from tests.bench.bench_ui import AskForEveryThumbnail, ReadyWatch, wait_until

    app = QApplication.instance() or QApplication([])
    root = Path(tempfile.mkdtemp(prefix="embed-studio-bench-memory-"))
    ini = QSettings(str(root / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppSettings(ini), root / "store.sqlite3")
    window.resize(1280, 800)
    window.show()
    wait_until(window.is_settled)
    start = time.perf_counter()
    items = 0
    if folder is not None:
        loop = QEventLoop()
        watch = ReadyWatch(window.controller, loop)
        asker = AskForEveryThumbnail(window.controller)
        window.add_paths([folder])
        watch.start()
        loop.exec()
        wait_until(window.is_settled)
        items = len(window.controller.session.items)
        del asker
    took = time.perf_counter() - start
    app.processEvents()
    figures = {
        "items": float(items),
        "rss_mb": _status_mb("VmRSS"),
        "peak_mb": _status_mb("VmHWM"),
        "seconds": took,
    }
    window.shutdown()
    return figures


def run_child(folder: Path | None) -> dict[str, float]:
    """Measure in a fresh interpreter; *folder* None measures the empty window."""
    code = (
        "import json, sys; from tests.bench.bench_memory import measure_child;"
        " print(json.dumps(measure_child(sys.argv[1] or None)))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder) if folder else ""],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Run the benchmark and print the results."""
    from tests.bench.bench_ui import corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000, help="how many images (10000)")
    parser.add_argument("--fresh", action="store_true", help="make the corpora again")
    args = parser.parse_args()
    small = max(1, args.images // 10)
    folders = {small: corpus(small, args.fresh), args.images: corpus(args.images, args.fresh)}

    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    base = run_child(None)
    rows = [("empty window (baseline)", base)]
    for count, folder in folders.items():
        rows.append((f"{count:,} images", run_child(folder)))
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")

    print(f"{'':26s}{'resident':>11s}{'peak':>11s}{'x baseline':>12s}{'ready in':>10s}")
    for label, f in rows:
        print(
            f"{label:26s}{f['rss_mb']:8.0f} MB{f['peak_mb']:8.0f} MB"
            f"{f['rss_mb'] / base['rss_mb']:10.2f} x{f['seconds']:8.1f} s"
        )
    (_, low), (_, high) = rows[1], rows[2]
    per_image = (high["rss_mb"] - low["rss_mb"]) / max(1.0, high["items"] - low["items"]) * 1000
    print(f"\neach further image costs about {per_image:.0f} KB resident")
    met = "met" if high["rss_mb"] < TARGET_MB else "NOT met"
    print(f"target: {args.images:,} images under {TARGET_MB:.0f} MB resident -> {met}")


if __name__ == "__main__":
    main()

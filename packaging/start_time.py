"""Start time of the frozen app against the venv's: launch until the ``--screenshot`` PNG exists.

    .venv/bin/python packaging/start_time.py [RUNS]

Both start with an empty environment (a fresh HOME, offscreen) on the bundle's sample images,
alternately, RUNS times each (default 7); the medians are printed, with the load average, since a
busy machine slows both.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "dist" / "embed-studio"
SAMPLES = BUNDLE / "_internal" / "desktop" / "resources" / "samples"
COMMANDS = {
    "bundle": [str(BUNDLE / "embed-studio")],
    "venv": [str(ROOT / ".venv" / "bin" / "embed-studio")],
}


def once(command: list[str]) -> tuple[float, float]:
    """Seconds from launch until the PNG is there, and until the process has exited."""
    with tempfile.TemporaryDirectory() as home:
        shot = Path(home) / "shot.png"
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "QT_QPA_PLATFORM": "offscreen"}
        started = time.perf_counter()
        child = subprocess.Popen(
            [*command, "--screenshot", str(shot), str(SAMPLES)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        written = None
        while child.poll() is None:
            if written is None and shot.exists():
                written = time.perf_counter() - started
            time.sleep(0.005)
        ended = time.perf_counter() - started
        if child.returncode != 0 or not shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"):
            raise SystemExit(f"{command[0]} exited with {child.returncode} or wrote no PNG")
        return (ended if written is None else written), ended


def main() -> int:
    """Time both commands alternately and print the medians."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    once(COMMANDS["bundle"])  # a first start fills the page cache; not counted
    once(COMMANDS["venv"])
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(once(command))
    medians = {}
    for name, pairs in times.items():
        png = statistics.median(p for p, _ in pairs)
        exited = statistics.median(e for _, e in pairs)
        medians[name] = png
        each = " ".join(f"{p:.2f}" for p, _ in pairs)
        print(f"{name:6}: PNG after {png:.2f} s (median of {runs}: {each}), exited {exited:.2f} s")
    print(f"bundle / venv: {medians['bundle'] / medians['venv']:.2f}")
    print("load average:", " ".join(f"{load:.2f}" for load in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

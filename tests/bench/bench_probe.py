"""Benchmark: probe 2,000 files one after another, then with ``probe_many``.

Run by hand from the project root:
``python tests/bench/bench_probe.py [--files N] [--photo-share F]``.
The corpus is made in a temporary folder: small graphics (PNG, GIF, WebP, a few KB each) and,
by default for half the files, photo-sized JPEGs (2000 x 1500, about 1 MB each, where reading
and hashing dominate).
Every timing is the best of three rounds over a warm page cache, the variants taking turns
within each round. The baseline, measured in the same run, is the serial loop
``[probe_file(p) for p in paths]``; the floor is reading and hashing the same bytes with
nothing else. Nothing is asserted: speed is read, not tested.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script from the project root: make `tests` importable next to `desktop`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop.core.images import default_probe_workers, probe_all, probe_file, probe_many
from tests import imagegen

ROUNDS = 3


def make_corpus(folder: Path, count: int, photo_share: float) -> list[str]:
    """*count* real image files: small graphics and photo-sized JPEGs, each with unique bytes."""
    graphic_formats = ("PNG", "GIF", "WEBP")
    graphics = []
    for i, fmt in enumerate(graphic_formats):
        buf = io.BytesIO()
        imagegen.graphic(160, 120, seed=i).save(buf, fmt)
        graphics.append((fmt.lower(), buf.getvalue()))
    buf = io.BytesIO()
    imagegen.photo(2000, 1500).save(buf, "JPEG", quality=95)
    photo = buf.getvalue()

    paths = []
    for i in range(count):
        if int((i + 1) * photo_share) > int(i * photo_share):
            # A JPEG comment right after the start marker keeps every file's hash distinct.
            comment = f"copy {i}".encode()
            marker = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
            name, data = f"{i:05d}.jpg", photo[:2] + marker + photo[2:]
        else:
            ext, data = graphics[i % len(graphics)]
            name, data = f"{i:05d}.{ext}", data + b"\0" * (i % 7)
        path = folder / name
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def serial_probe(paths: list[str]) -> None:
    for path in paths:
        probe_file(path)


def hash_only(paths: list[str]) -> None:
    for path in paths:
        with open(path, "rb") as f:
            hashlib.sha256(f.read()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files in the corpus")
    parser.add_argument(
        "--photo-share", type=float, default=0.5, help="fraction of 1 MB JPEGs (0 to 1)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        paths = make_corpus(Path(tmp), args.files, args.photo_share)
        total = sum(os.path.getsize(p) for p in paths)
        print(f"{len(paths):,} files, {total / 1e6:,.0f} MB, {os.cpu_count()} CPUs")
        hash_only(paths)  # warm the page cache

        serial_probes = [probe_file(p) for p in paths]
        errors = sum(not p.ok for p in serial_probes)
        assert errors == 0, f"{errors} files failed to probe"
        assert list(probe_many(paths)) == serial_probes, "probe_many disagrees with probe_file"

        default = default_probe_workers()
        variants: dict[str, Callable[[], object]] = {
            "read + sha256 only (floor)": functools.partial(hash_only, paths),
            "probe_file, serial (baseline)": functools.partial(serial_probe, paths),
        }
        for workers in sorted({1, 2, 4, 8, default}):
            label = f"probe_many, {workers} workers" + (" (default)" if workers == default else "")
            variants[label] = functools.partial(probe_all, paths, max_workers=workers)
        # Rounds interleave the variants, so a noisy neighbour slows them all alike.
        best = dict.fromkeys(variants, float("inf"))
        for _ in range(ROUNDS):
            for label, work in variants.items():
                start = time.perf_counter()
                work()
                best[label] = min(best[label], time.perf_counter() - start)

        baseline = best["probe_file, serial (baseline)"]
        for label, seconds in best.items():
            files_per_s = len(paths) / seconds
            mb_per_s = total / seconds / 1e6
            print(
                f"  {label:<36} {seconds:7.3f} s {files_per_s:8,.0f} files/s "
                f"{mb_per_s:7,.0f} MB/s   x{baseline / seconds:4.2f} vs serial"
            )


if __name__ == "__main__":
    main()

"""Benchmark: preparing images for the wire, the project's way against the naive way.

Run by hand from the project root: ``python tests/bench/bench_prepare.py [--quick]``.

The corpus is made in a temporary folder: camera-like 12 MP JPEGs (4000 x 3000, quality 92,
about 3 MB each), 4K PNG screenshots (3840 x 2160, flat UI and anti-aliased text), and photos
that already comply (1920 x 1080 JPEG quality 85, sent unchanged). For each class it prints
images per second for

* the project: ``prepare_many`` over all cores, building each data URL with pybase64;
* the naive path, one image after another: open, ``ImageOps.exif_transpose``,
  ``convert("RGB")``, LANCZOS to the same target size, JPEG quality 90 into a BytesIO, stdlib
  base64;

and their ratio, measured in the same run (the variants take turns within each round; the
best round counts). For the 12 MP JPEGs it also prints the PSNR of both outputs against a
reference (full-resolution decode, LANCZOS to the same size, no encode) and the gap. Then it
times building and serialising a 20 MB request body. ``--candidates`` adds single-thread
timings and PSNR of the resize pipelines considered for the JPEG path. Probing is done before
the clock starts (the app probes every file anyway). Nothing is asserted: targets are printed
next to the numbers.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import PIL
import pybase64
import simplejpeg
from PIL import Image, ImageOps

# Run as a script from the project root: make `tests` importable next to `desktop`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop.core import payload
from desktop.core.images import Probe, probe_file
from desktop.core.models import MODELS, Settings
from desktop.core.prepare import data_url, prepare, prepare_many
from desktop.core.raster import upright_size
from desktop.core.rules import fitted_size
from tests import imagegen

SETTINGS = Settings()  # embed-v4.0: shrinks images over the pixel budget


@dataclass(frozen=True)
class ImageClass:
    """One kind of input: its name, files, and the target printed beside its numbers."""

    name: str
    paths: list[str]
    target: str
    target_ratio: float | None = None
    target_rate: float | None = None


def _unique_copy(data: bytes, index: int) -> bytes:
    """*data* (a JPEG) with a comment naming *index*, so every file hashes differently."""
    comment = f"copy {index}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def make_corpus(folder: Path, quick: bool) -> list[ImageClass]:
    """Write the three classes of files into *folder*."""
    distinct, copies = (2, 4) if quick else (4, 6)
    jpeg12: list[str] = []
    for seed in range(distinct):
        data = imagegen.encoded(imagegen.realistic_photo(4000, 3000, seed), "JPEG", quality=92)
        for copy in range(copies):
            path = folder / f"photo12_{seed}_{copy}.jpg"
            path.write_bytes(_unique_copy(data, copy))
            jpeg12.append(str(path))
    png4k: list[str] = []
    for seed in range(3 if quick else 8):
        path = folder / f"screen4k_{seed}.png"
        imagegen.screenshot(3840, 2160, seed).save(path, "PNG")
        png4k.append(str(path))
    compliant: list[str] = []
    for seed in range(12 if quick else 24):
        path = folder / f"photo1080_{seed}.jpg"
        imagegen.realistic_photo(1920, 1080, seed).save(path, "JPEG", quality=85)
        compliant.append(str(path))
    return [
        ImageClass("12 MP JPEG", jpeg12, ">= 25 images/s on 2 cores", target_rate=25.0),
        ImageClass("4K PNG screenshot", png4k, "(no target)"),
        ImageClass("compliant 1080p JPEG", compliant, ">= 20x naive", target_ratio=20.0),
    ]


# --------------------------------------------------------------------------------------------
# The two paths


def naive_prepare(path: str) -> tuple[bytes, str]:
    """The obvious Pillow pipeline, for comparison: JPEG bytes and their base64 text."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image = image.resize(fitted_size(*image.size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    data = out.getvalue()
    return data, base64.b64encode(data).decode("ascii")


def run_naive(paths: Sequence[str]) -> float:
    """Seconds for the naive path over *paths*, one after another."""
    start = time.perf_counter()
    for path in paths:
        naive_prepare(path)
    return time.perf_counter() - start


def run_project(probes: Sequence[Probe], workers: int | None = None) -> float:
    """Seconds for ``prepare_many`` over *probes*, data URLs included."""
    start = time.perf_counter()
    for result in prepare_many(probes, SETTINGS, max_workers=workers):
        if isinstance(result, Exception):
            raise result
        data_url(result)
    return time.perf_counter() - start


def compare(cls: ImageClass, rounds: int) -> None:
    """Print images/s for both paths on *cls*, best of *rounds* interleaved rounds."""
    probes = [probe_file(p) for p in cls.paths]
    n = len(probes)
    best = {"project": 0.0, "project 1 thread": 0.0, "naive": 0.0}
    for _ in range(rounds):
        best["project"] = max(best["project"], n / run_project(probes))
        best["project 1 thread"] = max(best["project 1 thread"], n / run_project(probes, 1))
        best["naive"] = max(best["naive"], n / run_naive(cls.paths))
    ratio = best["project"] / best["naive"]
    met = ""
    if cls.target_rate is not None:
        met = "met" if best["project"] >= cls.target_rate else "NOT met"
    elif cls.target_ratio is not None:
        met = "met" if ratio >= cls.target_ratio else "NOT met"
    print(
        f"{cls.name:22s} {n:3d} files  project {best['project']:7.1f} img/s "
        f"(1 thread {best['project 1 thread']:6.1f})  naive {best['naive']:6.1f} img/s  "
        f"ratio {ratio:5.1f}x   target {cls.target} {met}"
    )


# --------------------------------------------------------------------------------------------
# Quality of the 12 MP JPEG path


def _pixels(data: bytes) -> npt.NDArray[np.float64]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def psnr(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Peak signal-to-noise ratio of *a* against *b* in dB (8-bit peak)."""
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def reference(path: str, size: tuple[int, int]) -> npt.NDArray[np.float64]:
    """Full-resolution decode, upright, LANCZOS to *size*, no encode."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.float64)


def quality(paths: Sequence[str]) -> None:
    """Print the PSNR of both paths' outputs against the reference, and the gap."""
    ours, naive = [], []
    for path in paths:
        prepared = prepare(probe_file(path), SETTINGS)
        ref = reference(path, (prepared.width, prepared.height))
        ours.append(psnr(_pixels(prepared.data), ref))
        naive.append(psnr(_pixels(naive_prepare(path)[0]), ref))
    gap = statistics.mean(naive) - statistics.mean(ours)
    print(
        f"{'12 MP JPEG quality':22s} PSNR vs full-res LANCZOS reference: project "
        f"{statistics.mean(ours):.2f} dB, naive {statistics.mean(naive):.2f} dB, gap {gap:.2f} dB"
        f"   target gap <= 1.5 dB {'met' if gap <= 1.5 else 'NOT met'}"
    )


# --------------------------------------------------------------------------------------------
# Candidate JPEG pipelines (single thread), to show why the project's path was chosen


def _draft_rgb(data: bytes, size: tuple[int, int]) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", size)
    return image.convert("RGB")


def _sj_encode(image: Image.Image) -> bytes:
    return bytes(simplejpeg.encode_jpeg(np.asarray(image), quality=90, colorsubsampling="420"))


def _candidates(size: tuple[int, int]) -> dict[str, Callable[[bytes], bytes]]:
    lanczos, bicubic = Image.Resampling.LANCZOS, Image.Resampling.BICUBIC

    def draft_then(resample: Image.Resampling) -> Callable[[bytes], bytes]:
        return lambda data: _sj_encode(_draft_rgb(data, size).resize(size, resample))

    def reduce_then(data: bytes) -> bytes:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        factor = max(1, min(image.width // size[0], image.height // size[1]))
        return _sj_encode(image.reduce(factor).resize(size, bicubic))

    def simplejpeg_then(data: bytes) -> bytes:
        pixels = simplejpeg.decode_jpeg(data, min_width=size[0], min_height=size[1])
        return _sj_encode(Image.fromarray(pixels).resize(size, bicubic))

    def draft_pillow_encoder(data: bytes) -> bytes:
        out = io.BytesIO()
        _draft_rgb(data, size).resize(size, bicubic).save(out, "JPEG", quality=90)
        return out.getvalue()

    return {
        "draft 1/2 + LANCZOS + simplejpeg": draft_then(lanczos),
        "draft 1/2 + BICUBIC + simplejpeg": draft_then(bicubic),
        "draft 1/2 + BICUBIC + Pillow encode": draft_pillow_encoder,
        "full decode + reduce() + BICUBIC": reduce_then,
        "simplejpeg 1/2 + BICUBIC": simplejpeg_then,
    }


def candidates(path: str, reps: int) -> None:
    """Single-thread ms/image and PSNR of each candidate, the project's path last."""
    data = Path(path).read_bytes()
    probe = probe_file(path)
    size = fitted_size(*upright_size((probe.width, probe.height), probe.orientation))
    ref = reference(path, size)
    pipelines = _candidates(size)
    pipelines["project: draft YCbCr planes + simplejpeg"] = lambda _data: (
        prepare(probe, SETTINGS).data
    )
    times: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in range(reps):
        for name, run in pipelines.items():
            start = time.perf_counter()
            run(data)
            times[name].append(time.perf_counter() - start)
    for name, run in pipelines.items():
        ms = 1000 * statistics.median(times[name])
        print(f"  {name:42s} {ms:6.1f} ms/img   PSNR {psnr(_pixels(run(data)), ref):.2f} dB")


# --------------------------------------------------------------------------------------------
# A 20 MB request body


def request_body(rounds: int) -> None:
    """Build and serialise a ~20 MB v4 body: orjson + pybase64 against json + stdlib base64."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, 600_000, dtype=np.uint8).tobytes() for _ in range(25)]
    spec = MODELS[SETTINGS.model]

    def project() -> int:
        urls = [payload.data_url("image/jpeg", data) for data in images]
        return len(payload.body_json(payload.embed_kwargs(SETTINGS, spec, urls)))

    def naive() -> int:
        urls = [
            "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") for data in images
        ]
        return len(json.dumps(payload.embed_kwargs(SETTINGS, spec, urls)).encode())

    best = {"project": float("inf"), "naive": float("inf")}
    size = 0
    for _ in range(rounds):
        for name, build in (("project", project), ("naive", naive)):
            start = time.perf_counter()
            size = build()
            best[name] = min(best[name], time.perf_counter() - start)
    ms, naive_ms = 1000 * best["project"], 1000 * best["naive"]
    print(
        f"{'20 MB request body':22s} {size / 1e6:.1f} MB  project (orjson + pybase64) "
        f"{ms:6.2f} ms  naive (json + base64) {naive_ms:6.1f} ms  ratio {naive_ms / ms:5.1f}x"
        f"   target < 10 ms {'met' if ms < 10 else 'NOT met'}"
    )


def parallel_capacity() -> str:
    """How much a second thread helps pure GIL-free work right now (other load shows here)."""
    block = os.urandom(20_000_000)

    def digest(_index: int) -> bytes:
        return hashlib.sha256(block).digest()

    start = time.perf_counter()
    for index in range(8):
        digest(index)
    one = time.perf_counter() - start
    with ThreadPoolExecutor(2) as pool:
        start = time.perf_counter()
        list(pool.map(digest, range(8)))
        two = time.perf_counter() - start
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"2-thread speed-up of plain hashing x{one / two:.2f}, load average {load}"


def main(argv: Sequence[str] | None = None) -> None:
    """Build the corpus, then print every measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer files and rounds")
    parser.add_argument(
        "--candidates", action="store_true", help="also time the JPEG pipelines considered"
    )
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 3
    print(f"cores: {os.cpu_count()}, Pillow {PIL.__version__}, simplejpeg {simplejpeg.__version__}")
    print(f"pybase64 {pybase64.__version__}, rounds: {rounds} (best counts)")
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        start = time.perf_counter()
        classes = make_corpus(Path(tmp), args.quick)
        print(f"corpus made in {time.perf_counter() - start:.1f} s")
        print(f"machine before: {parallel_capacity()}\n")
        for cls in classes:
            compare(cls, rounds)
        quality(classes[0].paths[:: 4 if args.quick else 6])
        request_body(3 if args.quick else 7)
        print(f"\nmachine after: {parallel_capacity()}")
        if args.candidates:
            print("\nJPEG 12 MP candidates, one thread, median:")
            candidates(classes[0].paths[0], 3 if args.quick else 7)


if __name__ == "__main__":
    main()

"""The disk fills up while vectors are being saved: a plain error, no damage, nothing lost.

The failure is real, not mocked: the writing process runs under a file-size limit
(``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so a write past it fails with ``EFBIG`` as on a full
disk), or, where this machine allows mounting, on a tiny tmpfs that really runs out of space
(``ENOSPC``). After the failure the store must pass SQLite's ``integrity_check``, every vector
saved before must read back exactly, and every batch reported saved must be there whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

from desktop.core.models import Settings
from desktop.core.store import STORE_FILE_NAME, EmbeddingRow, Store, VectorKey
from desktop.emulator import Emulator
from tests.imagegen import distinct_jpegs
from tests.reliability.support import (
    a_few_photos,
    assert_plain,
    assert_vectors_are_the_emulators,
    child_env,
    integrity,
    rows_per_key,
    run_embed,
    sha256_of,
)

ENDPOINT: Final = "http://127.0.0.1:9"
DIM: Final = 512
BATCH: Final = 16
EARLIER: Final = 40
#: Vectors of 256 numbers: a request's answer is about 80 KB, so a few fit before the limit.
SMALL_VECTORS: Final = ("--output-dimension", "256")

#: Saves batches of 16 vectors until the store refuses, then reads the earlier ones back.
#: argv: store path, file-size limit in bytes (0: none). Prints one JSON line.
_WRITER: Final = """
import json, resource, signal, sys
import numpy as np
from desktop.core.store import EmbeddingRow, Store, StoreError, VectorKey

path, limit = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
rng = np.random.default_rng(99)
saved, error, kind = 0, "", ""
with Store(path) as store:
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    run = store.start_run("embed-v4.0", "search_document", 512, ["float"], "http://127.0.0.1:9")
    try:
        for batch in range(100_000):
            rows = [
                EmbeddingRow(
                    sha256=f"{batch + 1:032x}{n:032x}", source_path=f"b{batch}/{n}.png",
                    model="embed-v4.0", input_type="search_document", output_dimension=512,
                    endpoint="http://127.0.0.1:9",
                    embeddings={"float": rng.standard_normal(512).tolist()},
                )
                for n in range(16)
            ]
            store.save_batch(run, rows)
            saved += 1
    except StoreError as exc:
        error, kind = str(exc), type(exc).__name__
    earlier = VectorKey(f"{0:032x}{0:032x}", "embed-v4.0", "search_document", 512, "float",
                        "http://127.0.0.1:9")
    readable = store.get(earlier) is not None
print(json.dumps({"saved": saved, "error": error, "kind": kind, "readable": readable}))
"""


def earlier_rows(count: int = EARLIER) -> list[EmbeddingRow]:
    """The vectors saved before the disk fills (batch number 0)."""
    rng = np.random.default_rng(5)
    return [
        EmbeddingRow(
            sha256=f"{0:032x}{n:032x}",
            source_path=f"early/{n}.png",
            model="embed-v4.0",
            input_type="search_document",
            output_dimension=DIM,
            endpoint=ENDPOINT,
            embeddings={"float": rng.standard_normal(DIM).astype(np.float32).tolist()},
        )
        for n in range(count)
    ]


def key(sha256: str) -> VectorKey:
    return VectorKey(sha256, "embed-v4.0", "search_document", DIM, "float", ENDPOINT)


def store_with_earlier_vectors(path: Path) -> list[EmbeddingRow]:
    rows = earlier_rows()
    with Store(path) as store:
        run = store.start_run("embed-v4.0", "search_document", DIM, ["float"], ENDPOINT)
        store.save_batch(run, rows)
    return rows


def fill(path: Path, limit: int) -> dict[str, Any]:
    """Run the writer on *path* until the store refuses; its report."""
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def assert_nothing_lost(path: Path, earlier: list[EmbeddingRow], saved_batches: int) -> None:
    """Sound file, earlier vectors exact, every reported batch whole, no partial batch."""
    assert integrity(path) == "ok"
    with Store(path, read_only=True) as store:
        found = store.get_many(key(row.sha256) for row in earlier)
        assert len(found) == len(earlier)
        for row in earlier:
            want = np.asarray(row.embeddings["float"], np.float32)
            np.testing.assert_array_equal(found[key(row.sha256)].values, want)
        later = [row for row in rows_per_key(path) if not row[0].startswith("0" * 32)]
        assert len(later) % BATCH == 0, "a batch is saved whole or not at all"
        assert len(later) >= saved_batches * BATCH, "every batch reported saved is there"
        assert len(later) <= (saved_batches + 1) * BATCH


# -- under a file-size limit ---------------------------------------------------------------


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs POSIX file limits")
def test_a_store_that_cannot_grow_says_so_and_keeps_every_earlier_vector(
    tmp_path: Path,
) -> None:
    path = tmp_path / STORE_FILE_NAME
    earlier = store_with_earlier_vectors(path)
    limit = path.stat().st_size + 256 * 1024

    report = fill(path, limit)

    assert report["kind"] == "StoreError", report
    assert report["saved"] >= 1, "some batches fitted before the limit"
    message = report["error"]
    assert str(path) in message
    assert "full" in message
    assert "Every vector saved before is kept" in message
    assert "Traceback" not in message
    assert report["readable"], "the store still reads after the failed write"
    assert_nothing_lost(path, earlier, report["saved"])
    with Store(path) as store:  # and, with room again, it takes new vectors
        run = store.start_run("embed-v4.0", "search_document", DIM, ["float"], ENDPOINT)
        store.save_batch(run, earlier_rows(1))


def limited(limit: int) -> Callable[[], None]:
    """A child-process set-up: files may not grow past *limit* bytes (as a full disk)."""

    def set_up() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return set_up


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs POSIX file limits")
def test_the_command_line_stops_plainly_when_the_disk_fills(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store_path = data / STORE_FILE_NAME
    with Emulator() as emulator:
        base_url = emulator.base_url
        first = a_few_photos(tmp_path / "first", 6)
        env = child_env(data)
        out = tmp_path / "first.csv"
        run = run_embed(
            env, tmp_path / "first", "--out", out, "--base-url", base_url, *SMALL_VECTORS
        )
        assert run.status == 0, run.err
        distinct_jpegs(tmp_path / "more", 400)
        limit = store_path.stat().st_size + 200 * 1024

        run = run_embed(
            env,
            tmp_path / "more",
            "--out",
            tmp_path / "more.csv",
            "--base-url",
            base_url,
            *SMALL_VECTORS,
            preexec_fn=limited(limit),
        )

    assert run.status == 1, (run.status, run.err)
    assert_plain(run)
    assert "full" in run.err
    assert "Every vector saved before is kept" in run.err
    assert integrity(store_path) == "ok"
    with Store(store_path, read_only=True) as store:
        sent = {sha256_of(p): p.read_bytes() for p in first}
        settings = Settings(output_dimension=256)
        assert_vectors_are_the_emulators(store, sent, settings, base_url)
    assert set(rows_per_key(store_path).values()) == {1}
    assert 6 < len(rows_per_key(store_path)) < 406, "some, not all, of the second run fitted"


# -- on a disk that really fills up ------------------------------------------------------------


@contextlib.contextmanager
def tiny_disk(kilobytes: int) -> Iterator[Path]:
    """A tmpfs of *kilobytes*, mounted for the test (skips where mounting is not allowed)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux; the file-size limit tests stand")
    folder = Path(tempfile.mkdtemp(prefix="embed-studio-tiny-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'refused'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


def test_a_full_disk_is_reported_plainly_and_nothing_saved_is_lost() -> None:
    with tiny_disk(768) as disk:
        path = disk / STORE_FILE_NAME
        earlier = store_with_earlier_vectors(path)

        report = fill(path, 0)

        assert report["kind"] == "StoreError", report
        assert f"The disk holding the result store {path} is full" in report["error"]
        assert report["readable"]
        assert_nothing_lost(path, earlier, report["saved"])

"""Helpers shared by the reliability tests: the command line, store checks, awkward images."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from desktop.core.models import Settings
from desktop.core.store import Store, VectorKey
from desktop.emulator import expected_vector
from tests.conftest import TEST_KEY
from tests.imagegen import photo, png_declaring, save

#: The installed command, beside the interpreter running the tests.
COMMAND: Final = Path(sys.executable).with_name("embed-studio")
EMBED_PATH: Final = "/v2/embed"
#: A command that hangs is a failure, not a stuck suite.
RUN_TIMEOUT: Final = 180.0


@dataclass(frozen=True)
class Run:
    """What a finished command did."""

    status: int
    out: str
    err: str


def child_env(data_dir: Path, key: str = TEST_KEY) -> dict[str, str]:
    """A child's environment: its own data folder, *key* in ``CO_API_KEY``, no keyring."""
    env = {k: v for k, v in os.environ.items() if k not in ("CO_API_KEY", "CO_API_URL")}
    env["EMBED_STUDIO_DATA_DIR"] = os.fspath(data_dir)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env["CO_API_KEY"] = key
    return env


def embed_command(*args: str | os.PathLike[str]) -> list[str]:
    """The argument list of ``embed-studio embed ARGS``."""
    assert COMMAND.exists(), f"the embed-studio command is not installed beside {sys.executable}"
    return [os.fspath(COMMAND), "embed", *(os.fspath(a) for a in args)]


def run_embed(
    env: dict[str, str],
    *args: str | os.PathLike[str],
    preexec_fn: Callable[[], None] | None = None,
) -> Run:
    """Run ``embed-studio embed ARGS`` to its end."""
    done = subprocess.run(
        embed_command(*args),
        capture_output=True,
        timeout=RUN_TIMEOUT,
        env=env,
        check=False,
        preexec_fn=preexec_fn,
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def assert_plain(run: Run) -> None:
    """No traceback and no exception class name reached the user."""
    for text in (run.out, run.err):
        assert "Traceback" not in text, text
        assert "Error:" not in text.replace("StoreError", ""), text


def integrity(path: Path) -> str:
    """SQLite's own verdict on the file (``ok`` when sound)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(row[0]) for row in rows)


def rows_per_key(path: Path) -> dict[tuple[str, str, str, int, str], int]:
    """How many ``embeddings`` rows each (sha256, model, input type, dimension, endpoint) has."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT sha256, model, input_type, output_dimension, endpoint, count(*)"
            " FROM embeddings GROUP BY sha256, model, input_type, output_dimension, endpoint"
        ).fetchall()
    return {(r[0], r[1], r[2], r[3], r[4]): r[5] for r in rows}


def vectors_per_embedding(path: Path) -> dict[tuple[str, str], int]:
    """How many ``vectors`` rows each (sha256, embedding type) has."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT e.sha256, v.embedding_type, count(*) FROM vectors v"
            " JOIN embeddings e ON e.id = v.embedding_id GROUP BY e.sha256, v.embedding_type"
        ).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def float_key(sha256: str, settings: Settings, endpoint: str) -> VectorKey:
    """The key of the float vector of *sha256* under *settings* from *endpoint*."""
    return VectorKey(
        sha256,
        settings.model,
        settings.effective_input_type,
        settings.effective_dimension or 0,
        "float",
        endpoint,
    )


def assert_vectors_are_the_emulators(
    store: Store, sent: dict[str, bytes], settings: Settings, endpoint: str
) -> None:
    """Every image of *sent* (sha256 -> bytes sent) has exactly the vector its bytes get."""
    keys = {sha: float_key(sha, settings, endpoint) for sha in sent}
    found = store.get_many(keys.values())
    missing = [sha for sha, key in keys.items() if key not in found]
    assert not missing, f"{len(missing)} images have no vector, e.g. {missing[:3]}"
    for sha, data in sent.items():
        want = expected_vector(
            data, settings.model, settings.effective_input_type, settings.effective_dimension
        )
        np.testing.assert_allclose(np.asarray(found[keys[sha]].values), want, rtol=1e-6)


def unsendable_files(folder: Path) -> list[Path]:
    """Files the rules refuse (they must never be sent): not an image, and a decompression
    bomb's header."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "notes-not-an-image.jpg"
    text.write_bytes(b"this is a text file with an image's name\n" * 20)
    bomb = png_declaring(folder / "bomb.png", 40_000, 40_000)
    return [text, bomb]


def a_few_photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """*count* small distinct photos (PNG), for stores with a little in them."""
    return [
        save(photo(64, 56, seed=seed + n), folder / f"early{seed + n:04d}.png", "PNG")
        for n in range(count)
    ]


def read_files(paths: Sequence[Path]) -> dict[Path, bytes]:
    """Each path's bytes."""
    return {path: path.read_bytes() for path in paths}


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of *path*'s bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()

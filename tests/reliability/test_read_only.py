"""A store that cannot be written: a plain error, and the vectors in it still readable and
exportable.

Two cases: the file is read-only (``chmod 444``), and the folder holding it is read-only (so
SQLite cannot make its ``-wal`` and ``-shm`` files beside it). Root ignores permission bits, and
CI runs as root: there the file or folder is also made immutable (the ``chattr +i`` flag, set
through its ioctl), which stops root too. Where that flag is refused (a file system without it)
the root case is skipped with the reason.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Final

import numpy as np
import pytest

from desktop.app import store_notice
from desktop.core.export import ExportItem, ExportSettings
from desktop.core.store import (
    STORE_FILE_NAME,
    EmbeddingRow,
    Store,
    StoreCorruptError,
    StoreReadOnlyError,
    VectorKey,
)
from desktop.emulator import Emulator
from desktop.workers.exporting import ExportJob, write_export
from tests.read_only import read_only
from tests.reliability.support import (
    a_few_photos,
    assert_plain,
    child_env,
    integrity,
    run_embed,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses Linux file attributes")

ENDPOINT: Final = "http://127.0.0.1:9"
DIM: Final = 256


def rows(count: int) -> list[EmbeddingRow]:
    rng = np.random.default_rng(8)
    return [
        EmbeddingRow(
            sha256=f"{n:064x}",
            source_path=f"photos/{n}.png",
            model="embed-v4.0",
            input_type="search_document",
            output_dimension=DIM,
            endpoint=ENDPOINT,
            embeddings={"float": rng.standard_normal(DIM).astype(np.float32).tolist()},
            width=64,
            height=56,
        )
        for n in range(count)
    ]


def key(sha256: str) -> VectorKey:
    return VectorKey(sha256, "embed-v4.0", "search_document", DIM, "float", ENDPOINT)


@pytest.fixture
def earlier(tmp_path: Path) -> list[EmbeddingRow]:
    """A store in ``tmp_path/data`` holding 30 vectors, closed cleanly."""
    saved = rows(30)
    with Store(tmp_path / "data" / STORE_FILE_NAME) as store:
        run = store.start_run("embed-v4.0", "search_document", DIM, ["float"], ENDPOINT)
        store.save_batch(run, saved)
    return saved


def export_job(store_path: Path, saved: list[EmbeddingRow], target: Path) -> ExportJob:
    return ExportJob(
        store_path=store_path,
        items=tuple(ExportItem(row.source_path, row.sha256) for row in saved),
        settings=ExportSettings(
            model="embed-v4.0",
            input_type="search_document",
            output_dimension=DIM,
            embedding_types=("float",),
            endpoint=ENDPOINT,
            emulated=True,
        ),
        target=target,
        fmt="csv",
    )


def assert_readable_and_exportable(
    store_path: Path, saved: list[EmbeddingRow], target: Path
) -> None:
    """The earlier vectors read back exactly, and the window's export writes them all."""
    with Store(store_path, read_only=True) as store:
        found = store.get_many(key(row.sha256) for row in saved)
        assert len(found) == len(saved)
        for row in saved:
            want = np.asarray(row.embeddings["float"], np.float32)
            np.testing.assert_array_equal(found[key(row.sha256)].values, want)
        with pytest.raises(StoreReadOnlyError, match="read-only"):
            store.start_run("embed-v4.0", "search_document", DIM, ["float"], ENDPOINT)
    outcome = write_export(export_job(store_path, saved, target))
    assert outcome.error == ""
    assert outcome.summary is not None
    assert outcome.summary.rows == len(saved)
    with target.open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [row["sha256"] for row in written] == [row.sha256 for row in saved]


def test_a_read_only_file_is_refused_plainly_and_still_exported(
    tmp_path: Path, earlier: list[EmbeddingRow]
) -> None:
    path = tmp_path / "data" / STORE_FILE_NAME
    before = path.read_bytes()

    with read_only(path):
        with pytest.raises(StoreReadOnlyError) as raised:
            Store(path)
        message = str(raised.value)
        assert "is read-only, so results cannot be saved" in message
        assert not isinstance(raised.value, StoreCorruptError)
        assert_readable_and_exportable(path, earlier, tmp_path / "out.csv")
        notice = store_notice(path)
        assert notice is not None
        assert "read-only" in notice
        assert [p.name for p in path.parent.iterdir() if "damaged" in p.name] == []

    assert path.read_bytes() == before
    assert integrity(path) == "ok"


def test_a_read_only_folder_is_refused_plainly_and_still_exported(
    tmp_path: Path, earlier: list[EmbeddingRow]
) -> None:
    folder = tmp_path / "data"
    path = folder / STORE_FILE_NAME
    assert sorted(p.name for p in folder.iterdir()) == [STORE_FILE_NAME], "closed cleanly"
    before = path.read_bytes()

    with read_only(folder):
        with pytest.raises(StoreReadOnlyError) as raised:
            Store(path)
        assert str(raised.value).startswith(f"The folder {folder} holding the result store is")
        assert "read-only, so results cannot be saved" in str(raised.value)
        assert_readable_and_exportable(path, earlier, tmp_path / "out.csv")
        assert sorted(p.name for p in folder.iterdir()) == [STORE_FILE_NAME]

    assert path.read_bytes() == before


def test_the_command_line_stops_plainly_on_a_read_only_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a_few_photos(tmp_path / "in", 3)
    with Emulator() as emulator:
        env = child_env(data)
        first = run_embed(
            env, tmp_path / "in", "--out", tmp_path / "a.csv", "--base-url", emulator.base_url
        )
        assert first.status == 0, first.err
        a_few_photos(tmp_path / "in", 2, seed=50)
        path = data / STORE_FILE_NAME
        before = path.read_bytes()
        sent_before = len(emulator.requests)

        with read_only(path):
            run = run_embed(
                env, tmp_path / "in", "--out", tmp_path / "b.csv", "--base-url", emulator.base_url
            )

        assert run.status == 1
        assert_plain(run)
        assert "is read-only, so results cannot be saved" in run.err
        assert len(emulator.requests) == sent_before, "nothing was sent that could not be kept"
    assert path.read_bytes() == before

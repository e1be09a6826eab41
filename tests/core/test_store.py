"""The result store, on real SQLite files: round trips, lookups, concurrency, crashes, bad files."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop.core.store import (
    DATA_DIR_ENV,
    SCHEMA_VERSION,
    STORE_FILE_NAME,
    EmbeddingRow,
    Store,
    StoreCorruptError,
    StoreError,
    VectorKey,
    normalize_endpoint,
)
from tests.read_only import read_only

MODEL = "embed-v4.0"
INPUT_TYPE = "search_document"
DIM = 256
ENDPOINT = "http://127.0.0.1:8123"
ALL_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")


def sha(n: int) -> str:
    return hashlib.sha256(f"image-{n}".encode()).hexdigest()


def api_values(rng: np.random.Generator, dim: int = DIM) -> dict[str, object]:
    """One image's embeddings as the API returns them: JSON-ish lists and a base64 string."""
    floats = rng.standard_normal(dim).astype(np.float32)
    return {
        # The API's floats arrive as decimal text; a float64 close to the float32 is the
        # realistic input.
        "float": [float(f"{v:.8g}") for v in floats],
        "int8": rng.integers(-128, 128, dim).tolist(),
        "uint8": rng.integers(0, 256, dim).tolist(),
        "binary": rng.integers(-128, 128, dim // 8).tolist(),
        "ubinary": rng.integers(0, 256, dim // 8).tolist(),
        "base64": base64.b64encode(floats.astype("<f4").tobytes()).decode("ascii"),
    }


def row_for(
    n: int,
    embeddings: dict[str, object],
    *,
    path: str | None = None,
    endpoint: str = ENDPOINT,
    model: str = MODEL,
    dim: int = DIM,
) -> EmbeddingRow:
    return EmbeddingRow(
        sha256=sha(n),
        source_path=path if path is not None else f"photos/img{n}.jpg",
        model=model,
        input_type=INPUT_TYPE,
        output_dimension=dim,
        endpoint=endpoint,
        embeddings=embeddings,
        width=100 + n,
        height=50 + n,
        format="jpeg",
        bit_depth=24,
        billed_images=1.0,
        billed_image_tokens=1610.0,
    )


def key_for(n: int, embedding_type: str = "float", **changes: Any) -> VectorKey:
    fields: dict[str, Any] = {
        "sha256": sha(n),
        "model": MODEL,
        "input_type": INPUT_TYPE,
        "output_dimension": DIM,
        "embedding_type": embedding_type,
        "endpoint": ENDPOINT,
    }
    fields.update(changes)
    return VectorKey(**fields)


def start(store: Store, types: tuple[str, ...] = ("float",)) -> int:
    return store.start_run(MODEL, INPUT_TYPE, DIM, types, ENDPOINT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.sqlite3") as opened:
        yield opened


def count_rows(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        count: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return count


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return result


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("embedding_type", ALL_TYPES)
def test_round_trip_gives_back_what_the_api_returned(store: Store, embedding_type: str) -> None:
    values = api_values(np.random.default_rng(1))
    run = start(store, ALL_TYPES)
    store.save_batch(run, [row_for(7, values)])

    stored = store.get(key_for(7, embedding_type))

    assert stored is not None
    sent = values[embedding_type]
    if embedding_type == "base64":
        assert stored.values == sent
        assert stored.as_api_value() == sent
    elif embedding_type == "float":
        expected = np.asarray(sent, dtype=np.float32)
        assert isinstance(stored.values, np.ndarray)
        assert stored.values.dtype == np.float32
        assert np.array_equal(stored.values, expected)
        api = stored.as_api_value()
        assert all(type(v) is float for v in api)
        assert api == expected.tolist()
    else:
        assert isinstance(stored.values, np.ndarray)
        dtype = {"int8": np.int8, "binary": np.int8, "uint8": np.uint8, "ubinary": np.uint8}
        assert stored.values.dtype == dtype[embedding_type]
        assert stored.as_api_value() == sent
    assert (stored.width, stored.height, stored.format, stored.bit_depth) == (107, 57, "jpeg", 24)
    assert (stored.billed_images, stored.billed_image_tokens) == (1.0, 1610.0)
    assert stored.run_id == run


def test_float_vector_keeps_float32_values_exactly(store: Store) -> None:
    exact = np.array([0.1, -1e-7, 3.4e38, 123456.79, 0.0, -0.0] * 2, dtype=np.float32)
    run = start(store)
    store.save_batch(run, [row_for(1, {"float": exact.tolist()}, dim=12)])

    stored = store.get(key_for(1, output_dimension=12))

    assert stored is not None
    assert stored.values.tobytes() == exact.tobytes()  # type: ignore[union-attr]


def test_saving_the_same_key_twice_keeps_one_row_and_the_first_vector(
    store: Store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2)
    first, second = api_values(rng), api_values(rng)
    run = start(store, ALL_TYPES)
    store.save_batch(run, [row_for(3, first)])
    store.save_batch(run, [row_for(3, second)])

    assert count_rows(store.path, "embeddings") == 1
    assert count_rows(store.path, "vectors") == len(ALL_TYPES)
    stored = store.get(key_for(3, "int8"))
    assert stored is not None
    assert stored.as_api_value() == first["int8"]


def test_a_later_run_adds_a_new_type_to_a_stored_image(store: Store) -> None:
    values = api_values(np.random.default_rng(3))
    store.save_batch(start(store), [row_for(4, {"float": values["float"]})])
    assert store.missing([key_for(4, "int8")]) == {key_for(4, "int8")}

    store.save_batch(start(store, ("int8",)), [row_for(4, {"int8": values["int8"]})])

    assert store.missing([key_for(4, "float"), key_for(4, "int8")]) == set()


@pytest.mark.parametrize(
    ("embedding_type", "value"),
    [
        ("float", [0.5] * (DIM - 1)),
        ("float", ["x"] * DIM),
        ("float", [float("nan")] * DIM),
        ("int8", [200] * DIM),
        ("int8", [0.5] * DIM),
        ("uint8", [-1] * DIM),
        ("binary", [1] * DIM),
        ("base64", [1.0] * DIM),
        ("bfloat16", [1.0] * DIM),
    ],
)
def test_a_bad_value_saves_nothing_of_its_batch(
    store: Store, embedding_type: str, value: object
) -> None:
    good = api_values(np.random.default_rng(4))
    run = start(store)
    with pytest.raises(ValueError, match=r"photos/img2\.jpg"):
        store.save_batch(run, [row_for(1, good), row_for(2, {embedding_type: value})])

    assert store.missing([key_for(1)]) == {key_for(1)}
    assert count_rows(store.path, "embeddings") == 0


def test_a_batch_failing_inside_the_database_saves_none_of_its_rows(store: Store) -> None:
    values = api_values(np.random.default_rng(16))
    run = start(store)
    # A trigger makes SQLite itself fail on the third row, after two rows were written.
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        conn.execute(
            "CREATE TRIGGER fail_third AFTER INSERT ON run_sources"
            f" WHEN NEW.sha256 = '{sha(3)}' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
        )
        conn.commit()

    with pytest.raises(StoreError, match="disk trouble"):
        store.save_batch(run, [row_for(1, values), row_for(2, values), row_for(3, values)])

    assert store.missing([key_for(1), key_for(2)]) == {key_for(1), key_for(2)}
    store.save_batch(run, [row_for(1, values)])  # the store is still usable afterwards
    assert store.missing([key_for(1)]) == set()


def test_saving_into_an_unknown_run_is_refused(store: Store) -> None:
    values = api_values(np.random.default_rng(5))
    with pytest.raises(ValueError, match="no run 99"):
        store.save_batch(99, [row_for(1, values)])


# -- lookups and keys --------------------------------------------------------------------------


def test_missing_answers_for_ten_thousand_keys(store: Store) -> None:
    rng = np.random.default_rng(6)
    vector = {"float": rng.standard_normal(DIM).astype(np.float32).tolist()}
    run = start(store)
    for first in range(0, 10_000, 96):
        store.save_batch(run, [row_for(n, vector) for n in range(first, min(first + 96, 10_000))])
    stored = [key_for(n) for n in range(10_000)]
    absent = [key_for(n) for n in range(10_000, 20_000)]
    other_type = [key_for(n, "int8") for n in range(0, 10_000, 7)]

    assert store.missing(stored + absent + other_type) == set(absent + other_type)
    assert store.missing(stored) == set()
    assert len(store.get_many(stored[:1000])) == 1000


@pytest.mark.parametrize(
    "change",
    [
        {"model": "embed-english-v3.0"},
        {"input_type": "search_query"},
        {"output_dimension": 512},
        {"embedding_type": "int8"},
        {"endpoint": "https://api.cohere.com"},
        {"endpoint": "http://127.0.0.1:8124"},
        {"endpoint": "http://127.0.0.1:8123/proxy"},
    ],
)
def test_a_key_differing_in_one_setting_is_missing(store: Store, change: dict[str, Any]) -> None:
    values = api_values(np.random.default_rng(7))
    store.save_batch(start(store), [row_for(1, {"float": values["float"]})])
    other = key_for(1, **change)

    assert store.missing([other]) == {other}
    assert store.get(other) is None
    assert store.get(key_for(1)) is not None


@pytest.mark.parametrize(
    "spelling",
    ["http://127.0.0.1:8123/", "HTTP://127.0.0.1:8123", "http://user:secret@127.0.0.1:8123?x=1"],
)
def test_endpoint_spellings_of_one_base_url_share_vectors(store: Store, spelling: str) -> None:
    values = api_values(np.random.default_rng(8))
    store.save_batch(start(store), [row_for(1, {"float": values["float"]}, endpoint=spelling)])

    assert key_for(1, endpoint=spelling) == key_for(1)
    assert store.missing([key_for(1), key_for(1, endpoint=spelling)]) == set()


def test_normalize_endpoint() -> None:
    assert normalize_endpoint("https://API.cohere.com:443/") == "https://api.cohere.com"
    assert normalize_endpoint("http://localhost:80/v2/") == "http://localhost/v2"
    assert normalize_endpoint("http://[::1]:9000/p//") == "http://[::1]:9000/p"
    assert normalize_endpoint("https://u:pw@host/x?key=1#f") == "https://host/x"
    with pytest.raises(ValueError, match="not a URL"):
        normalize_endpoint("127.0.0.1:8080")


def test_runs_and_sources_record_every_path_of_the_same_bytes(store: Store) -> None:
    values = {"float": api_values(np.random.default_rng(9))["float"]}
    run = start(store)
    odd_name = os.fsdecode(b"photos/caf\xe9.jpg")  # not UTF-8: a surrogate escape
    store.save_batch(run, [row_for(1, values, path="a/cat.jpg"), row_for(2, values)])
    store.save_batch(run, [row_for(1, values, path="b/cat copy.jpg")])
    store.save_batch(run, [row_for(1, values, path=odd_name)])
    store.finish_run(run, "failed", f"could not read {odd_name}")

    (info,) = store.runs()
    assert (info.id, info.status, info.images, info.paths) == (run, "failed", 2, 4)
    assert info.finished is not None
    assert "caf\\udce9" in info.detail
    assert (info.model, info.output_dimension, info.embedding_types) == (MODEL, DIM, ("float",))
    assert set(store.sources(run)) == {
        (sha(1), "a/cat.jpg"),
        (sha(1), "b/cat copy.jpg"),
        (sha(1), odd_name),
        (sha(2), "photos/img2.jpg"),
    }


def test_finishing_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="no run 5"):
        store.finish_run(5, "done")


# -- files, processes, threads -----------------------------------------------------------------


def test_default_location_follows_the_data_dir_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "nested"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))

    with Store() as opened:
        assert opened.path == folder / STORE_FILE_NAME
    assert (folder / STORE_FILE_NAME).is_file()


def test_the_file_is_in_wal_mode_with_the_current_schema(store: Store) -> None:
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_two_stores_on_one_file_see_each_others_commits(tmp_path: Path) -> None:
    values = api_values(np.random.default_rng(10))
    path = tmp_path / "shared.sqlite3"
    with Store(path) as first, Store(path) as second:
        first.save_batch(start(first), [row_for(1, values)])
        seen = second.get(key_for(1, "uint8"))
        assert seen is not None
        assert seen.as_api_value() == values["uint8"]

        second.save_batch(start(second), [row_for(2, values)])
        assert first.missing([key_for(1), key_for(2)]) == set()
        assert len(first.runs()) == 2


def test_four_threads_saving_at_once_lose_and_duplicate_nothing(store: Store) -> None:
    rng = np.random.default_rng(11)
    vector = {"float": rng.standard_normal(DIM).astype(np.float32).tolist()}
    run = start(store)
    barrier = threading.Barrier(4)

    def worker(index: int) -> None:
        barrier.wait()
        for batch in range(30):
            # Half of each batch is shared by all threads: idempotent saves must race too.
            own = [row_for(index * 10_000 + batch * 4 + i, vector) for i in range(4)]
            shared = [row_for(batch * 4 + i, vector) for i in range(4)]
            store.save_batch(run, own + shared)

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(worker, i) for i in range(1, 5)]:
            done.result()  # re-raises anything a worker raised

    expected = {key_for(i * 10_000 + n) for i in range(1, 5) for n in range(120)}
    expected |= {key_for(n) for n in range(120)}
    assert store.missing(expected) == set()
    assert count_rows(store.path, "embeddings") == len(expected) == 600
    assert count_rows(store.path, "vectors") == 600
    assert store.runs()[0].images == 600
    assert integrity(store.path) == "ok"


_WRITER = """
import sys
from pathlib import Path
from desktop.core.store import EmbeddingRow, Store

path, batch_size = Path(sys.argv[1]), int(sys.argv[2])
with Store(path) as store:
    run = store.start_run("embed-v4.0", "search_document", 16, ["float"], "http://127.0.0.1:1")
    for batch in range(1_000_000):
        rows = [
            EmbeddingRow(
                sha256=f"{batch:032x}{i:032x}",
                source_path=f"img-{batch}-{i}.png",
                model="embed-v4.0",
                input_type="search_document",
                output_dimension=16,
                endpoint="http://127.0.0.1:1",
                embeddings={"float": [float(batch), float(i)] * 8},
            )
            for i in range(batch_size)
        ]
        store.save_batch(run, rows)
        print(batch, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_writer_leaves_every_committed_batch(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite3"
    batch_size, wanted = 8, 25
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(batch_size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        for _ in range(wanted):
            if not writer.stdout.readline():
                pytest.fail(f"the writer stopped early: {writer.communicate()[1]}")
        with Store(path) as reader:
            visible = reader.runs()[0].images
        assert visible >= wanted * batch_size
    finally:
        writer.kill()  # SIGKILL: no cleanup, no final commit, no WAL checkpoint
        writer.communicate()
    assert writer.returncode == -9

    assert integrity(path) == "ok"
    with Store(path) as store:
        (info,) = store.runs()
        saved = info.images
        assert saved >= visible
        assert saved % batch_size == 0  # a batch is all there or not at all
        batches = saved // batch_size
        keys = {
            (batch, i): VectorKey(
                f"{batch:032x}{i:032x}", MODEL, INPUT_TYPE, 16, "float", "http://127.0.0.1:1"
            )
            for batch in range(batches)
            for i in range(batch_size)
        }
        found = store.get_many(keys.values())
        assert len(found) == saved
        for (batch, i), key in keys.items():
            assert found[key].as_api_value() == [float(batch), float(i)] * 8


def test_random_bytes_are_a_corrupt_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(np.random.default_rng(12).bytes(64 * 1024))
    before = path.read_bytes()

    with pytest.raises(StoreCorruptError, match="damaged or is not an SQLite database"):
        Store(path)
    assert path.read_bytes() == before


def test_a_store_with_damaged_pages_is_reported_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    values = api_values(np.random.default_rng(13))
    with Store(path) as store:
        run = start(store)
        for n in range(0, 200, 20):
            store.save_batch(run, [row_for(n + i, {"float": values["float"]}) for i in range(20)])
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[page:] = np.random.default_rng(14).bytes(len(data) - page)  # keep only the header page
    path.write_bytes(bytes(data))

    with pytest.raises(StoreCorruptError), Store(path) as store:
        store.missing(key_for(n) for n in range(200))


def test_another_programs_sqlite_file_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()

    with pytest.raises(StoreCorruptError, match="another program"):
        Store(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"


def test_a_store_from_a_newer_app_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    Store(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StoreError, match="newer Embed Studio"):
        Store(path)


@pytest.mark.skipif(sys.platform != "linux", reason="uses Linux file attributes for root")
def test_a_read_only_store_is_reported_plainly(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    values = api_values(np.random.default_rng(15))
    with Store(path) as store:
        store.save_batch(start(store), [row_for(1, values)])

    with read_only(path), pytest.raises(StoreError, match="read-only") as raised:
        Store(path)
    assert not isinstance(raised.value, StoreCorruptError)
    with Store(path) as store:
        assert store.get(key_for(1)) is not None


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3")
    store.close()
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.missing([key_for(1)])

"""The result store: every vector the API returned, kept in one SQLite file.

A vector is committed the moment its response is parsed, so a run that stops for any reason
(cancel, crash, power cut after the commit reached the disk) keeps everything that arrived, and
the next run sends only what is still missing.

Layout (schema version :data:`SCHEMA_VERSION`, in ``PRAGMA user_version``):

- ``runs``: one row per run (settings, start and end time, status).
- ``embeddings``: one row per (sha256 of the bytes sent, model, input type, dimension, endpoint),
  with the image metadata and billing the response gave.
- ``vectors``: the values, one row per embedding and embedding type.
- ``run_sources``: which file paths produced which bytes in each run (the same bytes can come
  from several paths). Paths are kept as UTF-8 bytes with ``surrogatepass``, so a file name
  that is not valid UTF-8 is kept exactly and never stops a save.

Threads: a :class:`Store` holds ONE connection shared by all threads, and every call takes the
store's lock for its whole duration; write transactions are one ``save_batch`` long, so they stay
short. Several :class:`Store` objects (or processes) may open the same file: WAL mode lets
readers see each other's commits, and SQLite's busy timeout serialises writers.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import platformdirs

from desktop.core.models import EmbeddingType

#: Version of the tables below; a store made by a newer app is refused, not guessed at.
SCHEMA_VERSION: Final = 1
#: Marks the file as an Embed Studio store (``PRAGMA application_id``, ASCII "EmSt").
APPLICATION_ID: Final = 0x456D5374
#: Environment variable naming the folder that holds the store instead of the user data dir.
DATA_DIR_ENV: Final = "EMBED_STUDIO_DATA_DIR"
#: The store's file name inside the data folder.
STORE_FILE_NAME: Final = "store.sqlite3"

#: How each numeric embedding type is kept (little-endian, so files move between machines).
_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    EmbeddingType.FLOAT: np.dtype("<f4"),
    EmbeddingType.INT8: np.dtype("i1"),
    EmbeddingType.UINT8: np.dtype("u1"),
    EmbeddingType.BINARY: np.dtype("i1"),
    EmbeddingType.UBINARY: np.dtype("u1"),
}
_PACKED_TYPES: Final = frozenset({EmbeddingType.BINARY, EmbeddingType.UBINARY})
# Keeps every IN (...) list far below SQLite's bound-parameter limit on old builds too.
_LOOKUP_CHUNK: Final = 500
_BUSY_TIMEOUT_SECONDS: Final = 30.0
#: SQLite's smallest page: a database file of any content is at least this long.
_SMALLEST_DATABASE: Final = 512

_SCHEMA: Final = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    detail TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    input_type TEXT NOT NULL,
    output_dimension INTEGER NOT NULL,
    embedding_types TEXT NOT NULL,
    endpoint TEXT NOT NULL
);
CREATE TABLE embeddings (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,
    input_type TEXT NOT NULL,
    output_dimension INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    format TEXT,
    bit_depth INTEGER,
    billed_images REAL NOT NULL DEFAULT 0,
    billed_image_tokens REAL NOT NULL DEFAULT 0,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    created TEXT NOT NULL,
    UNIQUE (sha256, model, input_type, output_dimension, endpoint)
);
CREATE TABLE vectors (
    embedding_id INTEGER NOT NULL REFERENCES embeddings(id) ON DELETE CASCADE,
    embedding_type TEXT NOT NULL,
    value NOT NULL,
    UNIQUE (embedding_id, embedding_type)
);
CREATE TABLE run_sources (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    source_path BLOB NOT NULL,
    PRIMARY KEY (run_id, sha256, source_path)
) WITHOUT ROWID;
"""


class StoreError(Exception):
    """The store cannot do what was asked; the message says why in plain words."""


class StoreCorruptError(StoreError):
    """The store file is damaged, or is not an Embed Studio store at all."""


class StoreReadOnlyError(StoreError):
    """The store file or its folder cannot be written; it can still be opened read-only."""


def default_store_path() -> Path:
    """Where the store lives: ``$EMBED_STUDIO_DATA_DIR/store.sqlite3``, else the user data dir."""
    folder = os.environ.get(DATA_DIR_ENV)
    base = Path(folder) if folder else platformdirs.user_data_path("embed-studio")
    return base / STORE_FILE_NAME


@functools.lru_cache(maxsize=64)
def normalize_endpoint(url: str) -> str:
    """*url* reduced to scheme, host, port and path, without a trailing slash.

    Scheme and host are lower-cased, a default port (80 for http, 443 for https) is dropped, and
    user name, password, query and fragment never survive, so no secret reaches the store.

    Raises:
        ValueError: *url* has no scheme or no host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not scheme or not host:
        raise ValueError(f"The endpoint {url!r} is not a URL like https://api.cohere.com")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"The endpoint {url!r} has an invalid port") from exc
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default_port else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def vector_width(embedding_type: str, dimension: int) -> int:
    """How many numbers one vector holds: *dimension*, or dimension/8 for packed binary types.

    A ``base64`` vector decodes to *dimension* float32 values.
    """
    if embedding_type in _PACKED_TYPES:
        return (dimension + 7) // 8
    return dimension


@dataclass(frozen=True, slots=True)
class VectorKey:
    """What identifies one stored vector.

    Attributes:
        sha256: hex digest of the image bytes SENT (not of the file on disk).
        model: the model id.
        input_type: the input type that was sent.
        output_dimension: the effective dimension of the vector.
        embedding_type: ``float``, ``int8``, ``uint8``, ``binary``, ``ubinary`` or ``base64``.
        endpoint: the base URL that produced it; normalised on construction (see
            :func:`normalize_endpoint`), so an emulator's or a proxy's vectors never pass for
            Cohere's.
    """

    sha256: str
    model: str
    input_type: str
    output_dimension: int
    embedding_type: str
    endpoint: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", normalize_endpoint(self.endpoint))


@dataclass(frozen=True, slots=True)
class EmbeddingRow:
    """One image's result from one response, ready to save.

    Attributes:
        sha256: hex digest of the image bytes sent.
        source_path: the file the bytes came from.
        model: the model id.
        input_type: the input type sent.
        output_dimension: the effective dimension.
        endpoint: the base URL that answered.
        embeddings: embedding type -> the value exactly as the API returned it (a list of
            floats or ints, or a str for ``base64``).
        width: ``images[i].width`` of the response, if given.
        height: ``images[i].height`` of the response, if given.
        format: ``images[i].format`` of the response, if given.
        bit_depth: ``images[i].bit_depth`` of the response, if given.
        billed_images: this image's share of ``meta.billed_units.images``.
        billed_image_tokens: this image's share of ``meta.billed_units.image_tokens``.
    """

    sha256: str
    source_path: str
    model: str
    input_type: str
    output_dimension: int
    endpoint: str
    embeddings: Mapping[str, object]
    width: int | None = None
    height: int | None = None
    format: str | None = None
    bit_depth: int | None = None
    billed_images: float = 0.0
    billed_image_tokens: float = 0.0

    def key(self, embedding_type: str) -> VectorKey:
        """The key this row's *embedding_type* vector is stored under."""
        return VectorKey(
            self.sha256,
            self.model,
            self.input_type,
            self.output_dimension,
            embedding_type,
            self.endpoint,
        )


@dataclass(frozen=True, slots=True)
class StoredVector:
    """A vector read back from the store.

    Attributes:
        key: what it is stored under.
        values: a numpy array (float32, int8 or uint8; packed D/8 bytes for binary types), or
            the base64 text for ``base64``.
        width, height, format, bit_depth: the response's image metadata (may be ``None``).
        billed_images, billed_image_tokens: the billing recorded when it was first saved.
        run_id: the run that first saved it.
        created: when it was first saved (ISO 8601, UTC).
    """

    key: VectorKey
    values: npt.NDArray[Any] | str
    width: int | None
    height: int | None
    format: str | None
    bit_depth: int | None
    billed_images: float
    billed_image_tokens: float
    run_id: int
    created: str

    def as_api_value(self) -> list[float] | list[int] | str:
        """The value as the API returned it: floats (of the float32 values), ints, or a str."""
        if isinstance(self.values, str):
            return self.values
        values: list[float] | list[int] = self.values.tolist()
        return values


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as listed by :meth:`Store.runs`.

    Attributes:
        images: how many distinct images (sha256 of what was sent) the run saved.
        paths: how many (image, file path) pairs the run saved.
    """

    id: int
    started: str
    finished: str | None
    status: str
    detail: str
    model: str
    input_type: str
    output_dimension: int
    embedding_types: tuple[str, ...]
    endpoint: str
    images: int
    paths: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _message_text(text: str) -> str:
    # A message may quote a non-UTF-8 file name; sqlite3 cannot bind its surrogates as text.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _path_blob(path: str) -> bytes:
    # surrogatepass round-trips every Python str, including the surrogate escapes os.fsdecode
    # makes of non-UTF-8 names, which sqlite3 would refuse to bind as text.
    return path.encode("utf-8", "surrogatepass")


def _encode(embedding_type: str, value: object, dimension: int) -> bytes | str:
    """The stored form of one API value; raises ValueError when it cannot be that type."""
    if embedding_type == EmbeddingType.BASE64:
        # Kept verbatim: its byte layout is documented loosely, so the store does not judge it.
        if not isinstance(value, str):
            raise ValueError("a base64 embedding must be a string")
        return value
    dtype = _DTYPES.get(embedding_type)
    if dtype is None:
        raise ValueError(f"{embedding_type!r} is not an embedding type the API returns")
    numbers = np.asarray(value)
    width = vector_width(embedding_type, dimension)
    if numbers.ndim != 1 or numbers.shape[0] != width:
        raise ValueError(
            f"a {embedding_type} vector of dimension {dimension} must hold {width} numbers, "
            f"this one has shape {numbers.shape}"
        )
    if dtype.kind == "f":
        if numbers.dtype.kind not in "iuf":
            raise ValueError(f"a {embedding_type} vector must hold numbers")
        converted = numbers.astype(dtype)
        if not np.isfinite(converted).all():
            raise ValueError(f"a {embedding_type} vector holds a value float32 cannot keep")
        return converted.tobytes()
    info = np.iinfo(dtype)
    if numbers.dtype.kind not in "iu":
        raise ValueError(f"a {embedding_type} vector must hold whole numbers")
    if int(numbers.min()) < info.min or int(numbers.max()) > info.max:
        raise ValueError(f"a {embedding_type} vector must hold numbers {info.min}..{info.max}")
    return numbers.astype(dtype).tobytes()


def _decode(embedding_type: str, stored: bytes | str) -> npt.NDArray[Any] | str:
    if isinstance(stored, str):
        return stored
    # astype to the native dtype is free on little-endian machines and keeps numpy and orjson
    # (which refuses non-native byte order) happy elsewhere.
    little = np.frombuffer(stored, dtype=_DTYPES[embedding_type])
    return little.astype(little.dtype.newbyteorder("="), copy=False)


class Store:
    """The SQLite result store (see the module docstring for layout and threading).

    With *read_only*, the file is only read: nothing is created, migrated or written, and every
    write raises :class:`StoreReadOnlyError`. That is how earlier vectors stay readable and
    exportable from a file or folder that cannot be written.

    Raises:
        StoreCorruptError: the file is not an SQLite database, is damaged, or belongs to
            another program.
        StoreReadOnlyError: the file or its folder cannot be written (and *read_only* is off).
        StoreError: the folder cannot be created, the file was made by a newer Embed Studio,
            or (with *read_only*) there is no store there yet.
    """

    def __init__(self, path: Path | None = None, *, read_only: bool = False) -> None:
        self._path = Path(path) if path is not None else default_store_path()
        self._lock = threading.Lock()
        self._read_only = read_only
        self._check_not_cut_short()
        if read_only:
            self._conn = self._connect_read_only()
        else:
            self._check_writable()
            self._conn = self._connect(str(self._path), uri=False)
        try:
            with self._errors():
                self._conn.execute("PRAGMA foreign_keys=ON")
                if read_only:
                    self._check_schema()
                else:
                    self._migrate()
                    # After the ownership check, so another program's database is never
                    # switched.
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            self._conn.close()
            raise

    def _check_not_cut_short(self) -> None:
        """Refuse a file shorter than any database's first page: SQLite would take it for an
        empty database and write a new store over it."""
        try:
            size = self._path.stat().st_size
        except OSError:
            return  # not there yet, or not readable: the opening says so plainly
        if 0 < size < _SMALLEST_DATABASE:
            raise StoreCorruptError(
                self._damaged_message(f"the file holds only {size} bytes, less than a database")
            )

    def _connect(self, database: str, *, uri: bool) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                database,
                timeout=_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
                uri=uri,
            )
        except sqlite3.Error as exc:
            raise self._plain_error(exc) from exc

    def _connect_read_only(self) -> sqlite3.Connection:
        """A read-only connection; ``immutable`` when not even SQLite's shared-memory file can
        be made beside the store (a read-only folder), since then nobody can write it."""
        if not self._path.is_file():
            raise StoreError(f"There is no result store at {self._path} yet.")
        uri = self._path.absolute().as_uri()
        conn = self._connect(f"{uri}?mode=ro", uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if not (exc.sqlite_errorname or "").startswith("SQLITE_CANTOPEN"):
                return conn  # the checks that follow report it in plain words
            conn.close()
            return self._connect(f"{uri}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error:
            return conn
        return conn

    @property
    def path(self) -> Path:
        """The store's file."""
        return self._path

    @property
    def read_only(self) -> bool:
        """Whether the store was opened to be read only."""
        return self._read_only

    def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        with self._lock:
            self._conn.close()

    def verify(self) -> None:
        """Read every page of the file and check its structure (SQLite's ``quick_check``).

        Opening a store reads only its first page, so damage further in would otherwise
        surface only when a run or an export reaches it. This takes about a second for a few
        hundred megabytes.

        Raises:
            StoreCorruptError: the file is damaged.
        """
        with self._read():
            rows = self._conn.execute("PRAGMA quick_check").fetchall()
        if [tuple(row) for row in rows] != [("ok",)]:
            found = "; ".join(str(row[0]) for row in rows[:3])
            raise StoreCorruptError(self._damaged_message(found))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start_run(
        self,
        model: str,
        input_type: str,
        output_dimension: int,
        embedding_types: Sequence[str],
        endpoint: str,
    ) -> int:
        """Record that a run starts now, and return its id."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started, model, input_type, output_dimension,"
                " embedding_types, endpoint) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    model,
                    input_type,
                    output_dimension,
                    json.dumps(list(embedding_types)),
                    normalize_endpoint(endpoint),
                ),
            )
            run_id = cursor.lastrowid
        assert run_id is not None  # an INSERT into a rowid table always sets it
        return run_id

    def finish_run(self, run_id: int, status: str, detail: str = "") -> None:
        """Record how run *run_id* ended (``done``, ``cancelled``, ``failed`` ...) and when."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished = ?, status = ?, detail = ? WHERE id = ?",
                (_now(), status, _message_text(detail), run_id),
            )
            if cursor.rowcount == 0:
                raise ValueError(f"There is no run {run_id} in the store")

    def save_batch(self, run_id: int, rows: Sequence[EmbeddingRow]) -> None:
        """Save one response's rows in ONE transaction, committed before returning.

        Saving a key that is already stored keeps the first vector and its billing; metadata
        the first save lacked (``None``) is filled in. Every row is checked before anything is
        written, so a bad row saves nothing of the batch.

        Raises:
            ValueError: a row's value does not fit its type and dimension, or no such run.
        """
        encoded: list[tuple[EmbeddingRow, str, list[tuple[str, bytes | str]]]] = []
        for row in rows:
            try:
                endpoint = normalize_endpoint(row.endpoint)
                values = [
                    (kind, _encode(kind, value, row.output_dimension))
                    for kind, value in row.embeddings.items()
                ]
            except ValueError as exc:
                raise ValueError(f"Cannot save {row.source_path}: {exc}") from exc
            encoded.append((row, endpoint, values))
        created = _now()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise ValueError(f"There is no run {run_id} in the store")
            for row, endpoint, values in encoded:
                (embedding_id,) = conn.execute(
                    "INSERT INTO embeddings (sha256, model, input_type, output_dimension,"
                    " endpoint, width, height, format, bit_depth, billed_images,"
                    " billed_image_tokens, run_id, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (sha256, model, input_type, output_dimension, endpoint)"
                    " DO UPDATE SET width = coalesce(width, excluded.width),"
                    " height = coalesce(height, excluded.height),"
                    " format = coalesce(format, excluded.format),"
                    " bit_depth = coalesce(bit_depth, excluded.bit_depth)"
                    " RETURNING id",
                    (
                        row.sha256,
                        row.model,
                        row.input_type,
                        row.output_dimension,
                        endpoint,
                        row.width,
                        row.height,
                        row.format,
                        row.bit_depth,
                        row.billed_images,
                        row.billed_image_tokens,
                        run_id,
                        created,
                    ),
                ).fetchone()
                conn.executemany(
                    "INSERT INTO vectors (embedding_id, embedding_type, value) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(embedding_id, kind, value) for kind, value in values],
                )
                conn.execute(
                    "INSERT OR IGNORE INTO run_sources (run_id, sha256, source_path)"
                    " VALUES (?, ?, ?)",
                    (run_id, row.sha256, _path_blob(row.source_path)),
                )

    def missing(self, keys: Iterable[VectorKey]) -> set[VectorKey]:
        """The subset of *keys* that has no stored vector (looked up in batches)."""
        wanted = set(keys)
        with self._read():
            found = {key for key, _ in self._lookup(wanted, "")}
        return wanted - found

    def get(self, key: VectorKey) -> StoredVector | None:
        """The vector stored under *key*, or ``None``."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[VectorKey]) -> dict[VectorKey, StoredVector]:
        """The stored vectors among *keys* (absent keys are simply not in the result)."""
        columns = (
            ", v.value, e.width, e.height, e.format, e.bit_depth, e.billed_images,"
            " e.billed_image_tokens, e.run_id, e.created"
        )
        with self._read():
            return {
                key: StoredVector(
                    key=key,
                    values=_decode(key.embedding_type, row[1]),
                    width=row[2],
                    height=row[3],
                    format=row[4],
                    bit_depth=row[5],
                    billed_images=row[6],
                    billed_image_tokens=row[7],
                    run_id=row[8],
                    created=row[9],
                )
                for key, row in self._lookup(keys, columns)
            }

    def sources(self, run_id: int) -> list[tuple[str, str]]:
        """The (sha256 sent, source path) pairs run *run_id* saved."""
        with self._read():
            rows = self._conn.execute(
                "SELECT sha256, source_path FROM run_sources WHERE run_id = ?"
                " ORDER BY sha256, source_path",
                (run_id,),
            ).fetchall()
        return [(sha, bytes(blob).decode("utf-8", "surrogatepass")) for sha, blob in rows]

    def runs(self) -> list[RunInfo]:
        """Every run, oldest first, with how many images and paths it saved."""
        with self._read():
            rows = self._conn.execute(
                "SELECT r.id, r.started, r.finished, r.status, r.detail, r.model, r.input_type,"
                " r.output_dimension, r.embedding_types, r.endpoint,"
                " (SELECT count(DISTINCT sha256) FROM run_sources s WHERE s.run_id = r.id),"
                " (SELECT count(*) FROM run_sources s WHERE s.run_id = r.id)"
                " FROM runs r ORDER BY r.id"
            ).fetchall()
        return [
            RunInfo(
                id=row[0],
                started=row[1],
                finished=row[2],
                status=row[3],
                detail=row[4],
                model=row[5],
                input_type=row[6],
                output_dimension=row[7],
                embedding_types=tuple(json.loads(row[8])),
                endpoint=row[9],
                images=row[10],
                paths=row[11],
            )
            for row in rows
        ]

    # -- internals -----------------------------------------------------------------------------

    def _lookup(
        self, keys: Iterable[VectorKey], columns: str
    ) -> Iterator[tuple[VectorKey, tuple[Any, ...]]]:
        """(key, row) for every stored key among *keys*; the caller holds the lock."""
        groups: dict[tuple[str, str, int, str, str], dict[str, None]] = {}
        for key in keys:
            group = (
                key.model,
                key.input_type,
                key.output_dimension,
                key.endpoint,
                key.embedding_type,
            )
            groups.setdefault(group, {})[key.sha256] = None
        for (model, input_type, dimension, endpoint, kind), shas in groups.items():
            ordered = list(shas)
            for start in range(0, len(ordered), _LOOKUP_CHUNK):
                chunk = ordered[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                cursor = self._conn.execute(
                    f"SELECT e.sha256{columns} FROM embeddings e"
                    " JOIN vectors v ON v.embedding_id = e.id"
                    " WHERE e.model = ? AND e.input_type = ? AND e.output_dimension = ?"
                    f" AND e.endpoint = ? AND v.embedding_type = ? AND e.sha256 IN ({marks})",
                    (model, input_type, dimension, endpoint, kind, *chunk),
                )
                for row in cursor:
                    yield VectorKey(row[0], model, input_type, dimension, kind, endpoint), row

    def _check_writable(self) -> None:
        """Refuse a folder that cannot be made and a file that cannot be written, plainly."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder {self._path.parent} for the result store:"
                f" {exc.strerror or exc}."
            ) from exc
        try:
            fd = os.open(self._path, os.O_RDWR)
        except FileNotFoundError:
            return
        except PermissionError as exc:
            raise StoreReadOnlyError(self._read_only_message()) from exc
        except OSError as exc:
            raise StoreError(
                f"Cannot open the result store {self._path}: {exc.strerror or exc}."
            ) from exc
        os.close(fd)

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if version == 0:
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if tables or app_id not in (0, APPLICATION_ID):
                    raise StoreCorruptError(self._foreign_message())
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif app_id != APPLICATION_ID:
                raise StoreCorruptError(self._foreign_message())
            elif version > SCHEMA_VERSION:
                raise StoreError(self._newer_message(version))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction under the lock, committed on success."""
        if self._read_only:
            raise StoreReadOnlyError(
                f"The result store {self._path} was opened read-only, so results cannot be saved."
            )
        with self._lock, self._errors():
            # IMMEDIATE takes the write lock up front, so a second writer waits for the busy
            # timeout instead of failing halfway through the transaction.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (disk full, I/O error); a second
                # ROLLBACK would then raise and hide the real cause.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self._lock, self._errors():
            yield

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._plain_error(exc) from exc

    def _plain_error(self, exc: sqlite3.Error) -> StoreError:
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return StoreCorruptError(self._damaged_message(str(exc)))
        if name.startswith("SQLITE_READONLY"):
            return StoreReadOnlyError(self._read_only_message())
        if name.startswith("SQLITE_FULL"):
            return StoreError(
                f"The disk holding the result store {self._path} is full, so results cannot be"
                " saved. Every vector saved before is kept; free some space and run again."
            )
        if name.startswith("SQLITE_IOERR"):
            return StoreError(
                f"Could not write or read the result store {self._path} ({exc}): the disk may be"
                " full, removed or failing. Every vector saved before is kept."
            )
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StoreError(
                f"The result store {self._path} stayed locked by another program for"
                f" {_BUSY_TIMEOUT_SECONDS:.0f} s."
            )
        if name.startswith("SQLITE_CANTOPEN"):
            folder = self._path.parent
            if folder.is_dir() and not os.access(folder, os.W_OK):
                # SQLite keeps two files beside a store in WAL mode and cannot make them.
                return StoreReadOnlyError(
                    f"The folder {folder} holding the result store is read-only, so results"
                    f" cannot be saved. Make it writable, or set {DATA_DIR_ENV} to a writable"
                    " folder."
                )
            return StoreError(
                f"Cannot open the result store {self._path}: check that the file and its"
                " folder exist and can be written."
            )
        if isinstance(exc, sqlite3.ProgrammingError):
            return StoreError(f"The result store {self._path} cannot be used: {exc}.")
        return StoreError(f"The result store {self._path} failed: {exc}.")

    def _read_only_message(self) -> str:
        return (
            f"The result store {self._path} is read-only, so results cannot be saved. Make the"
            f" file writable, or set {DATA_DIR_ENV} to a writable folder."
        )

    def _damaged_message(self, detail: str) -> str:
        return (
            f"The result store {self._path} is damaged or is not an SQLite database ({detail})."
            " The app moves a damaged store aside the next time it starts, and begins a new one."
        )

    def _check_schema(self) -> None:
        """What :meth:`_migrate` checks, for a store opened read-only (nothing is written)."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
        if version == 0 and app_id in (0, APPLICATION_ID):
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if not tables:
                raise StoreError(f"There is no result store at {self._path} yet.")
        if app_id != APPLICATION_ID:
            raise StoreCorruptError(self._foreign_message())
        if version > SCHEMA_VERSION:
            raise StoreError(self._newer_message(version))

    def _newer_message(self, version: int) -> str:
        return (
            f"The result store {self._path} was written by a newer Embed Studio"
            f" (store version {version}, this app knows {SCHEMA_VERSION}). Update the"
            " app, or choose another data folder."
        )

    def _foreign_message(self) -> str:
        return (
            f"The file {self._path} is an SQLite database of another program, not an Embed"
            " Studio result store. Move it aside, or choose another data folder."
        )


# -- opening the store at start: a damaged file is set aside, never crashed on ------------------

#: What SQLite keeps beside a store in WAL mode; they move with the store they belong to.
_COMPANION_SUFFIXES: Final = ("-wal", "-shm")


@dataclass(frozen=True, slots=True)
class SetAside:
    """A damaged store that was moved out of the way so a fresh one could start.

    Attributes:
        original: where the store was (and where the fresh one now is).
        moved_to: where the damaged file went (its ``-wal`` and ``-shm`` files beside it).
        reason: what was wrong with it, in plain words.
    """

    original: Path
    moved_to: Path
    reason: str

    @property
    def message(self) -> str:
        """What to tell the user, in plain words: what happened and where the old file went."""
        return (
            f"The store was damaged and has been set aside: the old file is now {self.moved_to},"
            " and a new, empty store was started. Images embedded before are sent again when"
            f" you run them. ({self.reason})"
        )


def open_store(path: Path | None = None) -> tuple[Store, SetAside | None]:
    """Open the store, setting a damaged file aside and starting a fresh one instead.

    Every page is checked (:meth:`Store.verify`), since damage past the first page is otherwise
    found only mid-run. A file that is not an SQLite database, is damaged, or is another
    program's database is renamed ``store.sqlite3.damaged-<date>`` beside the original (its
    ``-wal`` and ``-shm`` files too, so it can still be examined or recovered): nothing is
    deleted. A store made by a newer Embed Studio is NOT set aside (this app would lose
    nothing it understands, but the user would lose access to their vectors): its
    :class:`StoreError` is raised, as are read-only files, locked files and I/O errors.

    Returns:
        The open store, and what was set aside (``None`` when the store was sound).

    Raises:
        StoreError: the store cannot be used for a reason that setting it aside would not
            cure (the message says which), or it could not be moved.
    """
    target = Path(path) if path is not None else default_store_path()
    if target.exists():
        # Examined read-only first: SQLite, closing a read-write connection to a file it could
        # not use, deletes the -wal and -shm files beside it, and they may hold the only copy
        # of the last results.
        try:
            with Store(target, read_only=True) as existing:
                existing.verify()
        except StoreCorruptError as exc:
            moved = _set_aside(target, exc)
            return Store(target), moved
        except StoreError:
            pass  # not damaged (new, newer, locked...): the opening below says what, if anything
    try:
        store = Store(target)
    except StoreCorruptError as exc:
        moved = _set_aside(target, exc)
        return Store(target), moved
    return store, None


def _set_aside(path: Path, problem: StoreCorruptError) -> SetAside:
    """Rename *path* (and its WAL companions) to a free ``.damaged-<date>`` name beside it."""
    stamp = datetime.now().strftime("%Y-%m-%d-%H%M%S")
    moved = path.with_name(f"{path.name}.damaged-{stamp}")
    serial = 1
    while any(
        Path(f"{moved}{suffix}").exists() or Path(f"{moved}{suffix}").is_symlink()
        for suffix in ("", *_COMPANION_SUFFIXES)
    ):
        serial += 1
        moved = path.with_name(f"{path.name}.damaged-{stamp}-{serial}")
    try:
        # The WAL first: a fresh store must never meet the old store's log, which SQLite would
        # replay into it.
        for suffix in (*_COMPANION_SUFFIXES, ""):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{moved}{suffix}"))
    except OSError as exc:
        raise StoreError(
            f"The result store {path} is damaged, and it could not be moved aside to start a new"
            f" one ({exc.strerror or exc}). Move or delete it yourself, or set {DATA_DIR_ENV}"
            " to another folder."
        ) from exc
    return SetAside(path, moved, _reason(problem))


def _reason(problem: StoreCorruptError) -> str:
    text = str(problem)
    if "another program" in text:
        return "It was an SQLite database of another program, not an Embed Studio store."
    return "It was damaged or was not an SQLite database."

"""Write stored vectors to files other tools read: CSV, JSON, JSONL, NPY, NPZ, TSV.

Every export streams from the store in chunks (memory stays bounded however many items), writes
temporary files beside the targets and renames them into place only when everything was
written, so a failed export leaves any previous file untouched.

Files written for a target ``X.ext``:

- ``.csv``: ``X.csv``; header ``path, sha256, width, height, model, input_type, embedding_type,
  endpoint, emulated, e0 .. e{N-1}`` (N = dimension, or dimension/8 packed bytes for
  binary/ubinary), or a single ``base64`` column instead of ``e0..`` for base64.
- ``.json``: ``X.json``, one object: the settings, then ``items`` with every requested type.
- ``.jsonl``: ``X.jsonl``, one item per line with the settings repeated on each line.
- ``.npy``: ``X.npy`` (rows in item order) and the sidecar ``X.npy.json`` (settings, ``ids`` =
  paths and ``sha256`` in row order).
- ``.npz``: ``X.npz`` holding ``vectors``, ``ids``, ``sha256`` and ``provenance`` (the settings
  as a JSON string); all load with ``allow_pickle=False``.
- ``.tsv`` (TensorFlow Embedding Projector): ``X.tsv`` (vectors, no header) and
  ``X.metadata.tsv`` (header row, then one line per vector with the CSV's metadata columns).

Dtypes: float and base64 (decoded as little-endian float32) give float32; int8 and binary give
int8; uint8 and ubinary give uint8. Numbers are written as the shortest text that reads back
as the same float32.

Text policy: files are UTF-8 without a byte-order mark. A file name holding bytes that are not
UTF-8 (surrogate escapes from the OS) is written with each such byte as ``\\xNN``; a text cell
of CSV or TSV starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` so no
spreadsheet runs it as a formula (OWASP); in TSV, tab, LF and CR inside a cell become ``\\t``,
``\\n`` and ``\\r``. A ``'`` is not in the base64 alphabet, so a base64 cell that got one can
be read back by dropping it.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import os
import secrets
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt
import orjson

from desktop.core.models import EmbeddingType
from desktop.core.store import Store, StoredVector, VectorKey, normalize_endpoint, vector_width

#: The formats :func:`export` writes, by extension (without the dot).
FORMATS: Final = ("csv", "json", "jsonl", "npy", "npz", "tsv")

#: Metadata columns of CSV and of the Projector's metadata file, in order.
METADATA_COLUMNS: Final = (
    "path",
    "sha256",
    "width",
    "height",
    "model",
    "input_type",
    "embedding_type",
    "endpoint",
    "emulated",
)

_ARRAY_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    EmbeddingType.FLOAT: np.dtype(np.float32),
    EmbeddingType.BASE64: np.dtype(np.float32),
    EmbeddingType.INT8: np.dtype(np.int8),
    EmbeddingType.BINARY: np.dtype(np.int8),
    EmbeddingType.UINT8: np.dtype(np.uint8),
    EmbeddingType.UBINARY: np.dtype(np.uint8),
}
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_TSV_ESCAPES: Final = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Items looked up per store query: large enough to batch, small enough to bound memory.
_CHUNK: Final = 256
_BUFFER_BYTES: Final = 1 << 20


class ExportError(Exception):
    """The export cannot be written; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One image to export, in the order the user sees it.

    Attributes:
        path: the source file's path, as shown to the user.
        sha256_sent: hex digest of the bytes that were sent (the store's key).
        source_sha256: hex digest of the file itself, when known.
        width: width of what was sent; the response's metadata is used when ``None``.
        height: height of what was sent; the response's metadata is used when ``None``.
    """

    path: str
    sha256_sent: str
    source_sha256: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """The settings the vectors were made with; they select the vectors and are written out."""

    model: str
    input_type: str
    output_dimension: int
    embedding_types: tuple[str, ...]
    endpoint: str
    emulated: bool


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote.

    Attributes:
        paths: every file written (the target first).
        rows: how many items were written.
        skipped_missing: how many items had no stored vector (of some written type) and were
            left out.
        embedding_types: the embedding types written.
        dimension: the output dimension of the vectors.
    """

    paths: tuple[Path, ...]
    rows: int
    skipped_missing: int
    embedding_types: tuple[str, ...]
    dimension: int


def projector_metadata_path(path: Path) -> Path:
    """The Projector metadata file written beside vectors file *path* (``X.metadata.tsv``)."""
    return path.with_name(f"{path.stem}.metadata.tsv")


def npy_sidecar_path(path: Path) -> Path:
    """The provenance sidecar written beside *path* (``X.npy.json``)."""
    return path.with_name(f"{path.name}.json")


def export(
    store: Store,
    items: Sequence[ExportItem],
    settings: ExportSettings,
    path: Path,
    fmt: str | None = None,
    *,
    embedding_type: str | None = None,
) -> ExportSummary:
    """Write the stored vectors of *items* to *path*, in item order.

    *fmt* (``csv``, ``json``, ``jsonl``, ``npy``, ``npz``, ``tsv``) defaults to *path*'s
    extension. CSV, NPY, NPZ and TSV hold one embedding type: *embedding_type*, else the first
    of ``settings.embedding_types``; JSON and JSONL hold all of them, or only *embedding_type*
    when given. Items without a stored vector are skipped and counted.

    Raises:
        ExportError: unknown format or embedding type, or a file could not be written.
        StoreError: the store could not be read.
    """
    kind = export_format(path, fmt)
    try:
        endpoint = normalize_endpoint(settings.endpoint)
    except ValueError as exc:
        raise ExportError(str(exc)) from exc
    types = _types_to_write(settings, embedding_type, single=kind not in ("json", "jsonl"))
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    job = _Job(store, items, settings, types, Path(path), created, endpoint)
    try:
        paths, rows, skipped = _WRITERS[kind](job)
    except OSError as exc:
        raise ExportError(f"Could not write {path}: {exc.strerror or exc}.") from exc
    return ExportSummary(paths, rows, skipped, types, settings.output_dimension)


# -- plumbing shared by the formats ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    store: Store
    items: Sequence[ExportItem]
    settings: ExportSettings
    types: tuple[str, ...]
    path: Path
    created: str
    endpoint: str  # normalised, as the store keys it

    def key(self, item: ExportItem, embedding_type: str) -> VectorKey:
        s = self.settings
        return VectorKey(
            item.sha256_sent,
            s.model,
            s.input_type,
            s.output_dimension,
            embedding_type,
            self.endpoint,
        )

    def provenance(self) -> dict[str, Any]:
        s = self.settings
        return {
            "model": s.model,
            "input_type": s.input_type,
            "output_dimension": s.output_dimension,
            "embedding_types": list(self.types),
            "created": self.created,
            "endpoint": self.endpoint,
            "emulated": s.emulated,
        }


@dataclass(slots=True)
class _Found:
    """An item whose vectors (one per written type) are all stored."""

    item: ExportItem
    vectors: dict[str, StoredVector]

    @property
    def width(self) -> int | None:
        first = next(iter(self.vectors.values()))
        return self.item.width if self.item.width is not None else first.width

    @property
    def height(self) -> int | None:
        first = next(iter(self.vectors.values()))
        return self.item.height if self.item.height is not None else first.height


class _Counter:
    def __init__(self) -> None:
        self.skipped = 0


def _found(job: _Job, items: Iterable[ExportItem], counter: _Counter) -> Iterator[_Found]:
    """The items that have every written type stored, in order, looked up a chunk at a time."""
    chunk: list[ExportItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == _CHUNK:
            yield from _resolve_chunk(job, chunk, counter)
            chunk = []
    yield from _resolve_chunk(job, chunk, counter)


def _resolve_chunk(job: _Job, chunk: list[ExportItem], counter: _Counter) -> Iterator[_Found]:
    stored = job.store.get_many(job.key(item, t) for item in chunk for t in job.types)
    for item in chunk:
        vectors = {t: stored[key] for t in job.types if (key := job.key(item, t)) in stored}
        if len(vectors) == len(job.types):
            yield _Found(item, vectors)
        else:
            counter.skipped += 1


def _present_items(job: _Job) -> list[ExportItem]:
    """The items with a stored vector, for formats that must know the row count up front."""
    keys = [job.key(item, job.types[0]) for item in job.items]
    absent = job.store.missing(keys)
    return [item for item, key in zip(job.items, keys, strict=True) if key not in absent]


def export_format(path: Path, fmt: str | None = None) -> str:
    """The format *fmt* names, else *path*'s extension; raises :class:`ExportError` if unknown."""
    kind = (fmt if fmt is not None else Path(path).suffix).lower().lstrip(".")
    if kind not in FORMATS:
        named = f"'{fmt}'" if fmt is not None else f"'{Path(path).suffix or Path(path).name}'"
        raise ExportError(
            f"Cannot export to {named}: use one of " + ", ".join(f".{f}" for f in FORMATS) + "."
        )
    return kind


def _types_to_write(
    settings: ExportSettings, embedding_type: str | None, *, single: bool
) -> tuple[str, ...]:
    known = {t.value for t in EmbeddingType}
    unknown = [t for t in settings.embedding_types if t not in known]
    if unknown or not settings.embedding_types:
        raise ExportError(
            f"The embedding types {list(settings.embedding_types)} are not a non-empty list of"
            f" {sorted(known)}."
        )
    if embedding_type is not None:
        if embedding_type not in settings.embedding_types:
            raise ExportError(
                f"'{embedding_type}' was not among this run's embedding types"
                f" {list(settings.embedding_types)}."
            )
        return (embedding_type,)
    return settings.embedding_types[:1] if single else settings.embedding_types


def _text(value: str) -> str:
    """*value* as valid Unicode: each undecodable byte of a file name becomes ``\\xNN``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_char_text(c) for c in value)
    return value


def _char_text(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte the OS could not decode (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate (possible in Windows file names)
        return f"\\u{code:04x}"
    return char


def _cell(value: str) -> str:
    """A spreadsheet-safe text cell (OWASP CSV injection rule)."""
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _metadata_cells(job: _Job, found: _Found, embedding_type: str) -> list[str]:
    s = job.settings
    return [
        _cell(found.item.path),
        _cell(found.item.sha256_sent),
        "" if found.width is None else str(found.width),
        "" if found.height is None else str(found.height),
        _cell(s.model),
        _cell(s.input_type),
        _cell(embedding_type),
        _cell(job.endpoint),
        "true" if s.emulated else "false",
    ]


def _numbers(values: npt.NDArray[Any], separator: bytes) -> bytes:
    """Numbers joined by *separator*; floats as the shortest text that reads back exactly."""
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        return separator.join(repr(float(v)).encode() for v in values)
    # orjson prints float32 with the shortest round-trip digits, far faster than str() per value.
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    return text if separator == b"," else text.replace(b",", separator)


def _array(job: _Job, vector: StoredVector) -> npt.NDArray[Any]:
    """The vector as numbers; base64 is decoded as little-endian float32."""
    values = vector.values
    if not isinstance(values, str):
        return values
    try:
        raw = base64.b64decode(values, validate=True)
    except binascii.Error as exc:
        raise ExportError(f"The base64 vector of {vector.key.sha256} is not base64.") from exc
    dimension = job.settings.output_dimension
    if len(raw) != 4 * dimension:
        raise ExportError(
            f"The base64 vector of {vector.key.sha256} holds {len(raw)} bytes, not the"
            f" {4 * dimension} of {dimension} little-endian float32 values."
        )
    little = np.frombuffer(raw, dtype="<f4")
    return little.astype(np.float32, copy=False)


@contextmanager
def _atomic_files(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside *targets*, renamed onto them only if the block succeeds."""
    temps: list[Path] = []
    try:
        for target in targets:
            temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            # Created through os.open so the usual umask applies (mkstemp would force 0600).
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            temps.append(temp)
        yield temps
        for temp in temps:
            _fsync(temp)
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
        if os.name == "posix":
            _fsync(targets[0].parent)
    except BaseException:
        for temp in temps:
            # The export's own error matters more than a leftover temp file.
            with suppress(OSError):
                temp.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_binary(path: Path) -> BinaryIO:
    return open(path, "wb", buffering=_BUFFER_BYTES)


# -- the formats -------------------------------------------------------------------------------

_Result = tuple[tuple[Path, ...], int, int]


def _write_csv(job: _Job) -> _Result:
    embedding_type = job.types[0]
    if embedding_type == EmbeddingType.BASE64:
        value_columns = ["base64"]
    else:
        width = vector_width(embedding_type, job.settings.output_dimension)
        value_columns = [f"e{i}" for i in range(width)]
    line = io.StringIO()
    # The writer quotes a cell holding a line break only if that break is in its line
    # terminator: with none, a file name holding one would start a row of its own.
    cells = csv.writer(line, lineterminator="\r\n")
    counter = _Counter()
    rows = 0
    with _atomic_files([job.path]) as (temp,), _open_binary(temp) as out:
        cells.writerow([*METADATA_COLUMNS, *value_columns])
        out.write(line.getvalue().encode())
        for found in _found(job, job.items, counter):
            line.seek(0)
            line.truncate()
            vector = found.vectors[embedding_type]
            metadata = _metadata_cells(job, found, embedding_type)
            if isinstance(vector.values, str):
                cells.writerow([*metadata, _cell(vector.values)])
                out.write(line.getvalue().encode())
            else:
                cells.writerow(metadata)
                row = line.getvalue().removesuffix("\r\n")
                out.write(row.encode() + b"," + _numbers(vector.values, b","))
                out.write(b"\r\n")
            rows += 1
    return (job.path,), rows, counter.skipped


def _item_object(found: _Found) -> dict[str, Any]:
    item = found.item
    return {
        "path": _text(item.path),
        "sha256": item.sha256_sent,
        "source_sha256": item.source_sha256,
        "width": found.width,
        "height": found.height,
        # The stored numpy arrays go to orjson as they are: it prints them natively.
        "embeddings": {t: v.values for t, v in found.vectors.items()},
    }


def _write_json(job: _Job) -> _Result:
    head = orjson.dumps(job.provenance())
    counter = _Counter()
    rows = 0
    with _atomic_files([job.path]) as (temp,), _open_binary(temp) as out:
        out.write(head[:-1] + b',"items":[')
        for found in _found(job, job.items, counter):
            if rows:
                out.write(b",")
            out.write(orjson.dumps(_item_object(found), option=orjson.OPT_SERIALIZE_NUMPY))
            rows += 1
        out.write(b"]}\n")
    return (job.path,), rows, counter.skipped


def _write_jsonl(job: _Job) -> _Result:
    provenance = job.provenance()
    counter = _Counter()
    rows = 0
    with _atomic_files([job.path]) as (temp,), _open_binary(temp) as out:
        for found in _found(job, job.items, counter):
            line = provenance | _item_object(found)
            out.write(orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
            rows += 1
    return (job.path,), rows, counter.skipped


def _array_shape(job: _Job, rows: int) -> tuple[np.dtype[Any], tuple[int, int]]:
    embedding_type = job.types[0]
    width = vector_width(embedding_type, job.settings.output_dimension)
    return _ARRAY_DTYPES[embedding_type], (rows, width)


def _stream_array(job: _Job, present: list[ExportItem], out: IO[bytes]) -> None:
    """Write an .npy of *present*'s vectors to *out*, row by row."""
    dtype, shape = _array_shape(job, len(present))
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    counter = _Counter()
    for found in _found(job, present, counter):
        out.write(_array(job, found.vectors[job.types[0]]).astype(dtype, copy=False).tobytes())
    if counter.skipped:
        # The header already promised len(present) rows; the store never deletes, so this
        # means the file was changed under us.
        raise ExportError("Vectors disappeared from the store during the export.")


def _write_npy(job: _Job) -> _Result:
    present = _present_items(job)
    sidecar = npy_sidecar_path(job.path)
    with _atomic_files([job.path, sidecar]) as (temp, temp_sidecar):
        with _open_binary(temp) as out:
            _stream_array(job, present, out)
        dtype, shape = _array_shape(job, len(present))
        side = {
            "file": job.path.name,
            "shape": list(shape),
            "dtype": dtype.name,
            **job.provenance(),
            "embedding_type": job.types[0],
            "ids": [_text(item.path) for item in present],
            "sha256": [item.sha256_sent for item in present],
            "source_sha256": [item.source_sha256 for item in present],
        }
        temp_sidecar.write_bytes(orjson.dumps(side, option=orjson.OPT_INDENT_2) + b"\n")
    return (job.path, sidecar), len(present), len(job.items) - len(present)


def _write_npz(job: _Job) -> _Result:
    present = _present_items(job)
    with _atomic_files([job.path]) as (temp,), zipfile.ZipFile(temp, "w") as archive:
        with archive.open("vectors.npy", "w", force_zip64=True) as out:
            _stream_array(job, present, out)
        provenance = job.provenance() | {"embedding_type": job.types[0]}
        members: dict[str, npt.NDArray[Any]] = {
            "ids": np.array([_text(item.path) for item in present], dtype=np.str_),
            "sha256": np.array([item.sha256_sent for item in present], dtype=np.str_),
            "provenance": np.array(orjson.dumps(provenance).decode(), dtype=np.str_),
        }
        for name, array in members.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)
    return (job.path,), len(present), len(job.items) - len(present)


def _write_tsv(job: _Job) -> _Result:
    embedding_type = job.types[0]
    metadata_path = projector_metadata_path(job.path)
    counter = _Counter()
    rows = 0
    with (
        _atomic_files([job.path, metadata_path]) as (temp, temp_metadata),
        _open_binary(temp) as vectors,
        _open_binary(temp_metadata) as metadata,
    ):
        # Two or more columns: the Projector then expects exactly one header row.
        metadata.write("\t".join(METADATA_COLUMNS).encode() + b"\n")
        for found in _found(job, job.items, counter):
            row = _array(job, found.vectors[embedding_type])
            vectors.write(_numbers(row, b"\t") + b"\n")
            cells = _metadata_cells(job, found, embedding_type)
            metadata.write("\t".join(c.translate(_TSV_ESCAPES) for c in cells).encode() + b"\n")
            rows += 1
    return (job.path, metadata_path), rows, counter.skipped


_WRITERS: Final[dict[str, Callable[[_Job], _Result]]] = {
    "csv": _write_csv,
    "json": _write_json,
    "jsonl": _write_jsonl,
    "npy": _write_npy,
    "npz": _write_npz,
    "tsv": _write_tsv,
}

"""Benchmark: store 10,000 x 1536 float vectors, then export them to CSV and JSON.

Run by hand from the project root: ``python tests/bench/bench_export.py [--items N]``.
Each export is timed against a naive baseline measured in the same run on the same vectors
(``csv.writer`` with ``str(float)`` per value; ``json.dump`` of the whole document; both read
the vectors through ``as_api_value``). The exports' times include their fsync; the baselines do
not fsync. Targets, not asserted: CSV under 3 s and JSON under 2 s for 10,000 x 1536.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from desktop.core.export import ExportItem, ExportSettings, export
from desktop.core.store import EmbeddingRow, Store, VectorKey

MODEL = "embed-v4.0"
INPUT_TYPE = "search_document"
DIM = 1536
ENDPOINT = "http://127.0.0.1:8123"
BATCH = 96


def timed(label: str, work: Callable[[], Any]) -> float:
    # Flush earlier steps' dirty pages first: otherwise the exports' fsync pays for the
    # baselines' hundreds of unflushed megabytes.
    if hasattr(os, "sync"):
        os.sync()
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:7.3f} s")
    return seconds


def fill_store(store: Store, items: list[ExportItem], rng: np.random.Generator) -> None:
    run = store.start_run(MODEL, INPUT_TYPE, DIM, ("float",), ENDPOINT)
    for first in range(0, len(items), BATCH):
        chunk = items[first : first + BATCH]
        floats = (rng.standard_normal((len(chunk), DIM)) * 0.03).astype(np.float32)
        rows = [
            EmbeddingRow(
                item.sha256_sent,
                item.path,
                MODEL,
                INPUT_TYPE,
                DIM,
                ENDPOINT,
                {"float": vector.tolist()},  # a list of Python floats, as the SDK hands it over
                1024,
                768,
                "jpeg",
                24,
                1.0,
                1610.0,
            )
            for item, vector in zip(chunk, floats, strict=True)
        ]
        store.save_batch(run, rows)
    store.finish_run(run, "done")


def api_values(store: Store, items: list[ExportItem]) -> list[list[float] | list[int] | str]:
    keys = [VectorKey(i.sha256_sent, MODEL, INPUT_TYPE, DIM, "float", ENDPOINT) for i in items]
    found = store.get_many(keys)
    return [found[key].as_api_value() for key in keys]


def naive_csv(store: Store, items: list[ExportItem], path: Path) -> None:
    values = api_values(store, items)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "sha256", *(f"e{i}" for i in range(DIM))])
        for item, vector in zip(items, values, strict=True):
            writer.writerow([item.path, item.sha256_sent, *map(str, vector)])


def naive_json(store: Store, items: list[ExportItem], path: Path) -> None:
    values = api_values(store, items)
    document = {
        "model": MODEL,
        "input_type": INPUT_TYPE,
        "output_dimension": DIM,
        "embedding_types": ["float"],
        "items": [
            {"path": item.path, "sha256": item.sha256_sent, "embeddings": {"float": vector}}
            for item, vector in zip(items, values, strict=True)
        ],
    }
    with path.open("w", encoding="utf-8") as f:
        json.dump(document, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    count = parser.parse_args().items
    items = [
        ExportItem(f"photos/{n:05d}.jpg", hashlib.sha256(f"{n}".encode()).hexdigest())
        for n in range(count)
    ]
    settings = ExportSettings(MODEL, INPUT_TYPE, DIM, ("float",), ENDPOINT, emulated=True)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        out = Path(folder)
        print(f"{count} items x {DIM} float32, batches of {BATCH}")
        with Store(out / "store.sqlite3") as store:
            timed("save_batch (all batches)", lambda: fill_store(store, items, rng))
            keys = [
                VectorKey(i.sha256_sent, MODEL, INPUT_TYPE, DIM, "float", ENDPOINT) for i in items
            ]
            timed(f"missing() of {count} keys", lambda: store.missing(keys))
            timed("read every vector (get_many + as_api_value)", lambda: api_values(store, items))
            results: dict[str, float] = {}
            for name in ("csv", "json"):
                target = out / f"naive.{name}"
                naive = naive_csv if name == "csv" else naive_json
                results[f"naive {name}"] = timed(
                    f"baseline {name}", functools.partial(naive, store, items, target)
                )
            for name in ("csv", "json", "jsonl", "npy", "npz", "tsv"):
                target = out / f"export.{name}"
                results[name] = timed(
                    f"export {name}", functools.partial(export, store, items, settings, target)
                )
            sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
        print("sizes (MB): " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in sorted(sizes.items())))
        for name, goal in (("csv", 3.0), ("json", 2.0)):
            ratio = results[name] / results[f"naive {name}"]
            print(
                f"{name}: {results[name]:.3f} s = {ratio:.2f} x baseline"
                f" ({1 / ratio:.1f} times faster); target < {goal} s:"
                f" {'met' if results[name] < goal else 'MISSED'}"
            )


if __name__ == "__main__":
    main()

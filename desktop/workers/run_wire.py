"""A run's job and its events as JSON lines, between the window and the child process that runs.

The child runs the SDK in its own interpreter: the SDK parses each multi-megabyte answer with
the standard JSON module, holding the interpreter lock for up to a few hundred milliseconds,
which in the window's own process would freeze it. Everything crossing is plain data.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Final

import orjson

from desktop.core.endpoint import Endpoint
from desktop.core.images import Probe, ProbeError
from desktop.core.models import RateLimit, Settings
from desktop.core.runner import (
    Event,
    ItemFailed,
    ItemsEmbedded,
    Progress,
    Retrying,
    RunConfig,
    RunEnded,
    RunItem,
    RunPlanned,
    RunResult,
)

_EVENTS: Final[dict[str, type[Any]]] = {
    cls.__name__: cls
    for cls in (RunPlanned, ItemsEmbedded, ItemFailed, Retrying, Progress, RunEnded, RunResult)
}


def job_to_json(config: RunConfig, items: tuple[RunItem, ...], store_path: Path) -> bytes:
    """One line holding everything the child needs (the key included: it goes by pipe only)."""
    job = {
        "settings": dataclasses.asdict(config.settings),
        "api_key": config.api_key,
        "endpoint": dataclasses.asdict(config.endpoint),
        "concurrency": config.concurrency,
        "timeout": config.timeout,
        "max_attempts": config.max_attempts,
        "seed": config.seed,
        "backoff_base": config.backoff_base,
        "store_path": str(store_path),
        "items": [
            {
                "probe": dataclasses.asdict(item.probe),
                "sha256": item.sha256,
                "input_bytes": item.input_bytes,
            }
            for item in items
        ],
    }
    return orjson.dumps(job) + b"\n"


def _probe(data: dict[str, Any]) -> Probe:
    error = data.pop("error")
    return Probe(**data, error=ProbeError(error) if error else None)


def job_from_json(line: bytes) -> tuple[RunConfig, tuple[RunItem, ...], Path]:
    """The job :func:`job_to_json` wrote."""
    job = orjson.loads(line)
    settings = job["settings"]
    settings["rate_limit"] = RateLimit(settings["rate_limit"])
    settings["embedding_types"] = tuple(settings["embedding_types"])
    config = RunConfig(
        settings=Settings(**settings),
        api_key=job["api_key"],
        endpoint=Endpoint(**job["endpoint"]),
        concurrency=job["concurrency"],
        timeout=job["timeout"],
        max_attempts=job["max_attempts"],
        seed=job["seed"],
        backoff_base=job["backoff_base"],
    )
    items = tuple(
        RunItem(_probe(item["probe"]), item["sha256"], item["input_bytes"]) for item in job["items"]
    )
    return config, items, Path(job["store_path"])


def event_to_line(event: Event | RunResult) -> bytes:
    """One JSON line for a runner event or the final result."""
    return orjson.dumps({"kind": type(event).__name__, **dataclasses.asdict(event)}) + b"\n"


def event_from_line(line: bytes) -> Event | RunResult:
    """The event or result :func:`event_to_line` wrote; raises ``ValueError`` if malformed."""
    data = orjson.loads(line)
    cls = _EVENTS.get(data.pop("kind", None))
    if cls is None:
        raise ValueError("not a run event")
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    for name, value in data.items():
        if isinstance(value, list) and "tuple" in str(fields.get(name, "")):
            data[name] = tuple(value)
    event: Event | RunResult = cls(**data)
    return event

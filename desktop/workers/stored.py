"""Which images already have their vectors in the store (so they show as done)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.core.models import Settings
from desktop.core.store import Store, StoreError, VectorKey
from desktop.workers.tasks import Report, Work


@dataclass(frozen=True, slots=True)
class StoredQuery:
    """Plain inputs of a lookup: the store, the settings, the server, the images' sha256."""

    store_path: Path
    settings: Settings
    endpoint: str
    sha256s: tuple[str, ...]


def find_stored(query: StoredQuery) -> Work:
    """Work that returns the set of *query*'s sha256 whose every vector is stored."""

    def work(_report: Report, cancelled: threading.Event) -> set[str]:
        s = query.settings
        dimension = s.effective_dimension
        if dimension is None or not query.sha256s or not query.store_path.exists():
            return set()
        keys = [
            VectorKey(sha, s.model, s.effective_input_type, dimension, kind, query.endpoint)
            for sha in query.sha256s
            for kind in s.embedding_types
        ]
        if cancelled.is_set():
            return set()
        try:
            # Read-only: a lookup never writes, and works on a file that cannot be written.
            with Store(query.store_path, read_only=True) as store:
                missing = {key.sha256 for key in store.missing(keys)}
        except StoreError:
            return set()
        return set(query.sha256s) - missing

    return work


def stored_query(
    store_path: Path, settings: Settings, endpoint: str, sha256s: Sequence[str]
) -> StoredQuery:
    """A :class:`StoredQuery` from plain values."""
    return StoredQuery(store_path, settings, endpoint, tuple(sha256s))

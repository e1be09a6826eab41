"""From paths to a full judgement: probe, rules, prepare and plan, sending nothing.

This is what ``embed-studio check`` prints and what the window shows before a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop.core.batching import PlannedRequest, plan_requests
from desktop.core.export import ExportItem
from desktop.core.images import Probe, Skipped, collect_paths, probe_many
from desktop.core.models import Settings
from desktop.core.payload import data_url_chars, input_size
from desktop.core.prepare import Prepared, PrepareError, prepare_many
from desktop.core.rules import (
    Finding,
    RunShape,
    Severity,
    Status,
    judge_items,
    request_findings,
    status_of,
)
from desktop.core.runner import RunItem


def display_path(path: str) -> str:
    """*path* made safe to print or write as UTF-8 (undecodable bytes become ``\\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Sent:
    """What will travel for one item (the bytes themselves are not kept)."""

    mime: str
    width: int
    height: int
    bytes: int
    sha256: str
    unchanged: bool
    changes: tuple[str, ...] = ()

    @classmethod
    def of(cls, prepared: Prepared) -> Sent:
        """The summary of a prepared image."""
        return cls(
            mime=prepared.mime,
            width=prepared.width,
            height=prepared.height,
            bytes=len(prepared.data),
            sha256=prepared.sha256,
            unchanged=prepared.unchanged,
            changes=prepared.changes,
        )

    @property
    def data_url_chars(self) -> int:
        """Characters of the data URL that carries the image."""
        return data_url_chars(self.mime, self.bytes)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``embed-studio check --json``."""
        return {
            "mime": self.mime,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "data_url_chars": self.data_url_chars,
            "sha256": self.sha256,
            "unchanged": self.unchanged,
        }


@dataclass(slots=True)
class ItemReport:
    """One item: what it is, what the rules say, and what would be sent."""

    probe: Probe
    findings: list[Finding]
    sent: Sent | None = None

    @property
    def status(self) -> Status:
        """The worst severity among the findings."""
        return status_of(self.findings)

    @property
    def sendable(self) -> bool:
        """Whether the item will be sent (no error, and prepared)."""
        return self.status is not Status.ERROR and self.sent is not None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``embed-studio check --json``."""
        p = self.probe
        source = (
            {
                "format": p.format,
                "width": p.width,
                "height": p.height,
                "bytes": p.file_bytes,
                "frames": p.frames,
            }
            if p.ok
            else None
        )
        return {
            "path": display_path(p.path),
            "status": self.status.value,
            "findings": [f.as_dict() for f in self.findings],
            "source": source,
            "sent": self.sent.as_dict() if self.sendable and self.sent else None,
        }


@dataclass(slots=True)
class Assessment:
    """The whole judgement for a set of images under one set of settings."""

    settings: Settings
    items: list[ItemReport]
    findings: list[Finding]
    requests: list[PlannedRequest]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        """Whether an item or the request as a whole is in error."""
        return any(i.status is Status.ERROR for i in self.items) or any(
            f.severity is Severity.ERROR for f in self.findings
        )

    def run_items(self) -> list[RunItem]:
        """One :class:`RunItem` per distinct image that will be sent, in list order."""
        spec = self.settings.spec
        if spec is None:
            return []
        items: dict[str, RunItem] = {}
        for item in self.items:
            sent = item.sent
            if item.sendable and sent is not None and sent.sha256 not in items:
                size = input_size(sent.mime, sent.bytes, spec.shape)
                items[sent.sha256] = RunItem(item.probe, sent.sha256, size)
        return list(items.values())

    def export_items(self) -> list[ExportItem]:
        """Every sendable item as the exports list it (a duplicate keeps its own row)."""
        return [
            ExportItem(
                path=item.probe.path,
                sha256_sent=item.sent.sha256,
                source_sha256=item.probe.sha256,
                width=item.sent.width,
                height=item.sent.height,
            )
            for item in self.items
            if item.sendable and item.sent is not None
        ]

    def summary(self) -> dict[str, int]:
        """Counts of items by status, and the number of requests."""
        counts = {s.value: 0 for s in Status}
        for item in self.items:
            counts[item.status.value] += 1
        counts["requests"] = len(self.requests)
        return counts

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of ``embed-studio check --json`` (see the CLI contract)."""
        return {
            "model": self.settings.model,
            "input_type": self.settings.effective_input_type,
            "items": [i.as_dict() for i in self.items],
            "findings": [f.as_dict() for f in self.findings],
            "requests": [r.as_dict() for r in self.requests],
            "summary": self.summary(),
            "skipped": [{"path": display_path(s.path), "reason": s.reason} for s in self.skipped],
        }


def _prepare_failure(error: PrepareError) -> Finding:
    return Finding(error.code, Severity.ERROR, str(error))


def prepare_items(items: Sequence[ItemReport], settings: Settings) -> None:
    """Fill in :attr:`ItemReport.sent` for every item not in error, in parallel.

    A duplicate shares the first copy's result; a failure becomes an error finding on its item.
    """
    first_of: dict[str, ItemReport] = {}
    todo: list[ItemReport] = []
    for item in items:
        if item.status is Status.ERROR or item.probe.sha256 is None:
            continue
        if item.probe.sha256 in first_of:
            continue
        first_of[item.probe.sha256] = item
        todo.append(item)
    results = prepare_many([i.probe for i in todo], settings)
    for item, result in zip(todo, results, strict=True):
        if isinstance(result, PrepareError):
            item.findings.append(_prepare_failure(result))
        else:
            item.sent = Sent.of(result)
    for item in items:
        sha = item.probe.sha256
        if item.sent is None and sha in first_of and first_of[sha] is not item:
            original = first_of[sha]
            item.sent = original.sent
            if original.status is Status.ERROR:
                item.findings.extend(f for f in original.findings if f.severity is Severity.ERROR)


def plan_for(items: Sequence[ItemReport], settings: Settings) -> list[PlannedRequest]:
    """The requests that would carry every sendable item (duplicates travel once)."""
    spec = settings.spec
    if spec is None:
        return []
    seen: set[str] = set()
    sizes: list[tuple[int, int]] = []
    for index, item in enumerate(items):
        sent = item.sent
        if not item.sendable or sent is None or sent.sha256 in seen:
            continue
        seen.add(sent.sha256)
        sizes.append((index, input_size(sent.mime, sent.bytes, spec.shape)))
    return plan_requests(sizes, settings, spec)


def run_shape(items: Sequence[ItemReport], plan: Sequence[PlannedRequest]) -> RunShape:
    """The facts request rules judge, from the items and their plan."""
    return RunShape(
        images=sum(len(r.items) for r in plan),
        requests=len(plan),
        largest_body=max((r.body_bytes for r in plan), default=0),
    )


def assess(paths: Iterable[str | os.PathLike[str]], settings: Settings) -> Assessment:
    """Read every image under *paths* and judge it under *settings*; nothing is sent."""
    collected = collect_paths(paths)
    probes = list(probe_many(collected.files))
    items = [
        ItemReport(probe, findings)
        for probe, findings in zip(probes, judge_items(probes, settings), strict=True)
    ]
    prepare_items(items, settings)
    plan = plan_for(items, settings)
    findings = request_findings(settings, run_shape(items, plan))
    return Assessment(settings, items, findings, plan, skipped=collected.skipped)

"""The images a user is working on, and everything the app knows about them so far.

A :class:`Session` is what the window shows: items arrive as bare paths, get their probe from a
worker, then their findings and what will be sent. Changing the settings re-judges every item
at once without touching a file; only what will be sent for images the new settings transform
differently has to be prepared again, which a worker does. Plain Python: the window adapts it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from desktop.core.assess import Sent
from desktop.core.batching import PlannedRequest, plan_requests
from desktop.core.export import ExportItem
from desktop.core.images import Probe
from desktop.core.models import ACCEPTED_MIME, Settings
from desktop.core.payload import input_size
from desktop.core.rules import (
    Finding,
    RunShape,
    Severity,
    Status,
    duplicate_finding,
    fixed_findings,
    item_findings,
    needs_transform,
    request_findings,
    resamples,
    status_of,
)
from desktop.core.runner import RunItem


class Progress(StrEnum):
    """Where an item is on its way."""

    READING = "reading"  # added, not yet probed
    PREPARING = "preparing"  # probed; what will be sent is being worked out
    READY = "ready"  # judged and, unless in error, ready to send
    EMBEDDED = "embedded"  # its vectors are in the store
    FAILED = "failed"  # the last run could not embed it


@dataclass(slots=True)
class SessionItem:
    """One image in the session.

    Attributes:
        path: the file, as added.
        probe: what the file is, once read.
        fixed: findings that hold whatever the settings (judged once, when probed).
        findings: every finding under the current settings.
        sent: what will be sent, per "resamples" setting (prepared once per value).
        prepare_error: why preparing failed, per "resamples" setting.
        embedded: whether its vectors under the current settings are stored.
        run_error: the server's or the app's words for the last failed attempt.
    """

    path: str
    probe: Probe | None = None
    fixed: list[Finding] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sent: dict[bool, Sent] = field(default_factory=dict)
    prepare_error: dict[bool, Finding] = field(default_factory=dict)
    embedded: bool = False
    run_error: str = ""
    # Kept with the findings: the plan asks for it several times per item on every refresh.
    _status: Status | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The file name, for display."""
        return os.path.basename(self.path) or self.path

    @property
    def status(self) -> Status | None:
        """ok / warning / error under the current settings; ``None`` while still reading."""
        return self._status

    def judged(self, findings: list[Finding]) -> None:
        """Record every finding under the current settings (and so the item's status)."""
        self.findings = findings
        self._status = status_of(findings)


def passthrough_sent(probe: Probe) -> Sent:
    """What is sent for an image that goes byte for byte as the file is."""
    assert probe.sha256 is not None
    assert probe.format is not None
    return Sent(
        mime=ACCEPTED_MIME[probe.format],
        width=probe.width,
        height=probe.height,
        bytes=probe.file_bytes,
        sha256=probe.sha256,
        unchanged=True,
    )


class Session:
    """An ordered set of images and the settings they are judged under."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.items: list[SessionItem] = []
        self._index_of: dict[str, int] = {}
        self._first_with: dict[str, int] = {}

    # -- adding and removing --------------------------------------------------------------

    def add_paths(self, paths: Iterable[str]) -> list[int]:
        """Add files (already collected from folders); returns the new items' indices.

        A path already in the session is not added twice.
        """
        added = []
        for path in paths:
            if path in self._index_of:
                continue
            self._index_of[path] = len(self.items)
            added.append(len(self.items))
            self.items.append(SessionItem(path))
        return added

    def index_of(self, path: str) -> int | None:
        """The index of the item for *path*, if any."""
        return self._index_of.get(path)

    def remove(self, indices: Iterable[int]) -> None:
        """Remove the items at *indices*."""
        drop = set(indices)
        self.items = [item for n, item in enumerate(self.items) if n not in drop]
        self._reindex()
        self.rejudge()

    def clear(self) -> None:
        """Remove every item."""
        self.items.clear()
        self._reindex()

    def _reindex(self) -> None:
        self._index_of = {item.path: n for n, item in enumerate(self.items)}
        self._first_with = {}
        for n, item in enumerate(self.items):
            sha = item.probe.sha256 if item.probe and item.probe.ok else None
            if sha is not None:
                self._first_with.setdefault(sha, n)

    # -- what workers report --------------------------------------------------------------

    def set_probe(self, index: int, probe: Probe) -> list[int]:
        """Record an item's probe; returns the indices whose findings changed."""
        item = self.items[index]
        item.probe = probe
        item.fixed = fixed_findings(probe)
        changed = [index]
        sha = probe.sha256 if probe.ok else None
        if sha is not None:
            first = self._first_with.get(sha)
            if first is None or index < first:
                self._first_with[sha] = index
                if first is not None:
                    changed.append(first)
        for n in changed:
            self._judge(n)
        return changed

    def set_sent(self, index: int, key: bool, sent: Sent | Finding) -> None:
        """Record what will be sent for an item under settings whose ``resamples`` is *key*."""
        item = self.items[index]
        if isinstance(sent, Finding):
            item.prepare_error[key] = sent
            item.sent.pop(key, None)
        else:
            item.sent[key] = sent
            item.prepare_error.pop(key, None)
        self._judge(index)

    def set_embedded(self, indices: Iterable[int], embedded: bool = True) -> None:
        """Mark items as embedded (their vectors are stored) or not."""
        for n in indices:
            self.items[n].embedded = embedded
            if embedded:
                self.items[n].run_error = ""

    def set_failed(self, index: int, message: str) -> None:
        """Record why the last run could not embed an item."""
        self.items[index].run_error = message

    # -- judging --------------------------------------------------------------------------

    def set_settings(self, settings: Settings) -> None:
        """Judge every item under new settings (no file is read)."""
        self.settings = settings
        self.rejudge()

    def rejudge(self) -> None:
        """Judge every item again under the current settings."""
        for n in range(len(self.items)):
            self._judge(n)

    def _judge(self, index: int) -> None:
        item = self.items[index]
        probe = item.probe
        if probe is None:
            return
        findings = item_findings(probe, self.settings, item.fixed)
        sha = probe.sha256 if probe.ok else None
        first = self._first_with.get(sha) if sha is not None else None
        if first is not None and first != index:
            findings.append(duplicate_finding(self.items[first].probe or probe))
            # A copy cannot be sent when the first copy could not be prepared.
            item = self.items[first]
        error = item.prepare_error.get(self.key)
        if error is not None:
            findings.append(error)
        item = self.items[index]
        item.judged(findings)
        if (
            probe.ok
            and status_of(findings) is not Status.ERROR
            and self.key not in item.sent
            and not needs_transform(probe, self.settings)
        ):
            item.sent[self.key] = passthrough_sent(probe)

    @property
    def key(self) -> bool:
        """The one setting that changes what is sent (whether large images are shrunk)."""
        return resamples(self.settings)

    def progress(self, index: int) -> Progress:
        """Where item *index* is on its way."""
        item = self.items[index]
        if item.probe is None:
            return Progress.READING
        if item.embedded:
            return Progress.EMBEDDED
        if item.run_error:
            return Progress.FAILED
        if item.status is not Status.ERROR and self.sent_of(index) is None:
            return Progress.PREPARING
        return Progress.READY

    def needs_prepare(self) -> list[int]:
        """Items whose bytes to send under the current settings are not known yet."""
        key = self.key
        return [
            n
            for n, item in enumerate(self.items)
            if item.probe is not None
            and item.status is not Status.ERROR
            and key not in item.sent
            and key not in item.prepare_error
            and self._first_with.get(item.probe.sha256 or "", n) == n
        ]

    def sent_of(self, index: int) -> Sent | None:
        """What will be sent for item *index* under the current settings, if known."""
        item = self.items[index]
        if item.probe is None or item.status is Status.ERROR:
            return None
        first = self._first_with.get(item.probe.sha256 or "", index)
        return self.items[first].sent.get(self.key)

    # -- the run as a whole -----------------------------------------------------------------

    def sendable(self) -> list[int]:
        """Indices of items that will be sent, one per distinct image, in list order."""
        seen: set[str] = set()
        out = []
        for n in range(len(self.items)):
            sent = self.sent_of(n)
            if sent is not None and sent.sha256 not in seen:
                seen.add(sent.sha256)
                out.append(n)
        return out

    def plan(self, indices: Sequence[int] | None = None) -> list[PlannedRequest]:
        """The requests that would carry the sendable items (their indices into the session)."""
        spec = self.settings.spec
        if spec is None:
            return []
        chosen = self.sendable() if indices is None else indices
        sizes = []
        for n in chosen:
            sent = self.sent_of(n)
            if sent is not None:
                sizes.append((n, input_size(sent.mime, sent.bytes, spec.shape)))
        return plan_requests(sizes, self.settings, spec)

    def request_findings(self, plan: Sequence[PlannedRequest] | None = None) -> list[Finding]:
        """The request rules' findings for the current plan."""
        requests = self.plan() if plan is None else plan
        run = RunShape(
            images=sum(len(r.items) for r in requests),
            requests=len(requests),
            largest_body=max((r.body_bytes for r in requests), default=0),
        )
        return request_findings(self.settings, run)

    def can_run(self) -> bool:
        """Whether a run may start: something to send and no request-level error."""
        return bool(self.sendable()) and not any(
            f.severity is Severity.ERROR for f in self.request_findings()
        )

    def counts(self) -> dict[str, int]:
        """How many items are reading, ok, warning, error, preparing, embedded and failed."""
        counts = dict.fromkeys(("reading", "ok", "warning", "error"), 0)
        counts.update(
            {p.value: 0 for p in (Progress.PREPARING, Progress.EMBEDDED, Progress.FAILED)}
        )
        for n, item in enumerate(self.items):
            status = item.status
            counts["reading" if status is None else status.value] += 1
            progress = self.progress(n)
            if progress.value in counts and progress is not Progress.READING:
                counts[progress.value] += 1
        return counts

    def run_items(self, indices: Sequence[int] | None = None) -> list[RunItem]:
        """What a run sends: the sendable items (of *indices*, when given)."""
        spec = self.settings.spec
        if spec is None:
            return []
        chosen = set(indices) if indices is not None else None
        out = []
        for n in self.sendable():
            if chosen is not None and n not in chosen:
                continue
            probe, sent = self.items[n].probe, self.sent_of(n)
            assert probe is not None
            assert sent is not None
            out.append(RunItem(probe, sent.sha256, input_size(sent.mime, sent.bytes, spec.shape)))
        return out

    def export_items(self, indices: Sequence[int] | None = None) -> list[ExportItem]:
        """Every sendable item (of *indices*, when given) as exports list it."""
        chosen = range(len(self.items)) if indices is None else sorted(indices)
        out = []
        for n in chosen:
            sent = self.sent_of(n)
            item = self.items[n]
            if sent is None or item.probe is None:
                continue
            out.append(
                ExportItem(
                    path=item.path,
                    sha256_sent=sent.sha256,
                    source_sha256=item.probe.sha256,
                    width=sent.width,
                    height=sent.height,
                )
            )
        return out

    def indices_with_sha(self, sha256s: Iterable[str]) -> list[int]:
        """Items (duplicates included) whose bytes sent have one of *sha256s*."""
        wanted = set(sha256s)
        return [
            n
            for n in range(len(self.items))
            if (sent := self.sent_of(n)) is not None and sent.sha256 in wanted
        ]

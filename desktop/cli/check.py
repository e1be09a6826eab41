"""``embed-studio check``: judge images under the chosen settings and send nothing."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from typing import Any

import orjson

from desktop.cli.options import add_settings_arguments, settings_from_args
from desktop.core.assess import Assessment, ItemReport, assess, display_path
from desktop.core.models import MAX_BODY_BYTES
from desktop.core.rules import Finding, Status, body_mb, size_words

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2


def add_parser(sub: Any) -> None:
    """Register ``check`` on the subcommand parser *sub*."""
    parser = sub.add_parser(
        "check",
        help="show what would be sent for each image, and why, without sending anything",
        description="Read every image under PATH (folders recursively), apply the API's rules for "
        "the chosen settings, plan the requests, and send nothing. Exit status: 0 when nothing is "
        "in error, 1 when an image or the request is in error, 2 for a usage error.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    add_settings_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Carry out ``check`` and return its exit status."""
    settings = settings_from_args(args)
    if settings is None:
        return EXIT_USAGE
    result = assess(args.paths, settings)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    else:
        sys.stdout.write(render(result, shutil.get_terminal_size((100, 24)).columns))
    return EXIT_ERRORS if result.has_errors else EXIT_OK


def _original(item: ItemReport) -> str:
    p = item.probe
    if not p.ok:
        return "-"
    frames = f", {p.frames} frames" if p.frames > 1 else ""
    return f"{(p.format or '?').upper()} {p.width} x {p.height}, {size_words(p.file_bytes)}{frames}"


def _will_send(item: ItemReport) -> str:
    sent = item.sent
    if not item.sendable or sent is None:
        return "not sent"
    if sent.unchanged:
        return "unchanged"
    kind = sent.mime.removeprefix("image/").upper()
    return f"{kind} {sent.width} x {sent.height}, {size_words(sent.bytes)}"


def _finding_lines(finding: Finding, width: int, indent: str) -> list[str]:
    head = f"{indent}{finding.severity.value:<8} {finding.code}: "
    return textwrap.wrap(
        finding.message,
        width=max(width, 60),
        initial_indent=head,
        subsequent_indent=indent + " " * 9,
        break_on_hyphens=False,
    )


def render(result: Assessment, width: int = 100) -> str:
    """The human-readable report."""
    s = result.settings
    count = len(result.items)
    lines = [
        f"Checked {count} image{'s' if count != 1 else ''} for {s.model} "
        f"(input type: {s.effective_input_type}). Nothing was sent.",
        "",
    ]
    rows = [("STATUS", "IMAGE", "ORIGINAL", "WILL SEND")]
    rows += [
        (i.status.value, display_path(i.probe.name), _original(i), _will_send(i))
        for i in result.items
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    for n, row in enumerate(rows):
        cells = [row[c].ljust(widths[c]) for c in range(3)]
        lines.append(f"  {cells[0]}  {cells[1]}  {cells[2]}  {row[3]}".rstrip())
        if n > 0:
            for finding in result.items[n - 1].findings:
                lines.extend(_finding_lines(finding, width, "      "))
    lines.append("")
    lines.extend(_plan_lines(result, width))
    summary = result.summary()
    lines.append("")
    lines.append(
        f"Summary: {summary[Status.OK]} ok, {summary[Status.WARNING]} with warnings, "
        f"{summary[Status.ERROR]} in error; {summary['requests']} request"
        f"{'s' if summary['requests'] != 1 else ''} planned."
    )
    if result.skipped:
        skipped = ", ".join(f"{display_path(k.path)} ({k.reason})" for k in result.skipped[:10])
        more = f" and {len(result.skipped) - 10} more" if len(result.skipped) > 10 else ""
        lines.extend(
            textwrap.wrap(
                f"Skipped {len(result.skipped)} file{'s' if len(result.skipped) != 1 else ''}: "
                f"{skipped}{more}.",
                width=max(width, 60),
            )
        )
    return "\n".join(lines) + "\n"


def _plan_lines(result: Assessment, width: int) -> list[str]:
    lines = []
    if result.requests:
        largest = max(r.body_bytes for r in result.requests)
        n = len(result.requests)
        lines.append(
            f"The run: {n} request{'s' if n != 1 else ''}, the largest {body_mb(largest)} of the "
            f"{body_mb(MAX_BODY_BYTES)} one request may hold."
        )
        for k, req in enumerate(result.requests, 1):
            if n <= 10:
                lines.append(f"  request {k}: {len(req.items)} images, {body_mb(req.body_bytes)}")
    else:
        lines.append("The run: nothing to send.")
    for finding in result.findings:
        lines.extend(_finding_lines(finding, width, "  "))
    return lines

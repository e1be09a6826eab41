"""``embed-studio [gui] [PATH ...] [--screenshot FILE]``: open the window."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``gui`` on the subcommand parser *sub*."""
    parser = sub.add_parser(
        "gui",
        help="open the window (the default when no command is given)",
        description="Open the window with PATH (files or folders) already added. With no PATH on "
        "a first start it shows the bundled sample images. With --screenshot FILE it waits until "
        "every thumbnail and finding is ready, saves a PNG of the window and exits.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="image files or folders")
    parser.add_argument(
        "--screenshot", type=Path, metavar="FILE", help="save a PNG of the window, then exit"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the window (Qt is imported only now)."""
    from desktop.app import run_gui

    return run_gui([str(p) for p in args.paths], args.screenshot)

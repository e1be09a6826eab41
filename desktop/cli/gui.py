"""``embed-studio [gui] [PATH ...] [--screenshot FILE]``: open the window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from desktop.cli import check
from desktop.core.models import DEFAULT_MODEL
from desktop.resources import samples_dir


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


def has_screen() -> bool:
    """Whether a window can be shown: a display, or a Qt platform chosen explicitly."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    # Only X11 and Wayland systems can lack a screen; macOS and Windows always have one.
    uses_x11_or_wayland = os.name == "posix" and sys.platform != "darwin"
    return not uses_x11_or_wayland or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def run(args: argparse.Namespace) -> int:
    """Open the window (Qt is imported only now); without a screen, print the check report."""
    paths = [str(p) for p in args.paths]
    if args.screenshot is not None and not has_screen():
        # A screenshot needs no screen: Qt draws the window off screen.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not has_screen():
        print(
            "embed-studio: no screen here (DISPLAY is not set), so the window cannot open. "
            "Here is what it would show; run on a desktop, under Xvfb, or add "
            "--screenshot FILE to save a picture of the window.\n",
            file=sys.stderr,
        )
        return check.run(_check_args(paths or [str(samples_dir())]))
    from desktop.app import run_gui

    return run_gui(paths, args.screenshot)


def _check_args(paths: list[str]) -> argparse.Namespace:
    return argparse.Namespace(
        paths=paths, model=DEFAULT_MODEL, input_type=None, output_dimension=None, json=False
    )

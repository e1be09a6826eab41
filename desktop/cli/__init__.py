"""The ``embed-studio`` command: ``check``, ``embed``, ``serve-emulator`` and ``gui``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from desktop import __version__
from desktop.cli import check, embed, gui
from desktop.workers.run_child import RUN_CHILD_COMMAND


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="embed-studio",
        description="Embed your own images with Cohere's Embed API, and see exactly what is sent.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check.add_parser(sub)
    embed.add_parser(sub)
    gui.add_parser(sub)
    serve = sub.add_parser(
        "serve-emulator",
        help="start a Cohere-compatible local server (for trying the app without a key)",
        description="Start a Cohere-compatible local server on 127.0.0.1 and print its base URL "
        "on the first line.",
    )
    from desktop.emulator import cli as emulator_cli

    emulator_cli.add_arguments(serve)
    serve.set_defaults(run=emulator_cli.run)
    return parser


_COMMANDS = ("check", "embed", "gui", "serve-emulator")


def _default_to_gui(words: list[str]) -> list[str]:
    """With no command (only paths, or ``--screenshot``), the window opens."""
    if words and (words[0] in _COMMANDS or words[0] in ("-h", "--help", "--version")):
        return words
    return ["gui", *words]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    # File names that are not valid UTF-8 must print, not crash the report.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == [RUN_CHILD_COMMAND]:
        # A frozen app starts itself as a run's child process (see desktop.workers.running).
        from desktop.workers.run_child import run_and_exit

        run_and_exit()
    parser = build_parser()
    args = parser.parse_args(_default_to_gui(words))
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())

"""The settings options shared by ``check`` and ``embed``."""

from __future__ import annotations

import argparse
import sys

from desktop.core.models import DEFAULT_MODEL, MODELS, InputType, Settings


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--model``, ``--input-type`` and ``--output-dimension`` to *parser*."""
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="M",
        help=f"the model to embed with (default {DEFAULT_MODEL}; one of: {', '.join(MODELS)})",
    )
    parser.add_argument(
        "--input-type",
        choices=[t.value for t in InputType],
        metavar="T",
        help="what the vectors are for: search_document (default for embed-v4.0), search_query, "
        "classification, clustering, or image (the v3 models' only choice)",
    )
    parser.add_argument(
        "--output-dimension",
        type=int,
        metavar="D",
        help="numbers per vector (embed-v4.0: 256, 512, 1024 or 1536; default 1536)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings | None:
    """The settings the options name, or ``None`` after telling the user what is wrong."""
    if args.model not in MODELS:
        print(
            f"embed-studio: no image model called {args.model!r}. "
            f"Models that embed images: {', '.join(MODELS)}.",
            file=sys.stderr,
        )
        return None
    return Settings(
        model=args.model,
        input_type=args.input_type,
        output_dimension=args.output_dimension,
    )

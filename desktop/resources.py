"""Where the bundled resources (sample images, icons) are, installed or from a checkout."""

from __future__ import annotations

from pathlib import Path


def resources_dir() -> Path:
    """The resources folder: inside the installed package, else the checkout's top level."""
    here = Path(__file__).resolve().parent
    installed = here / "resources"
    return installed if installed.is_dir() else here.parent / "resources"


def samples_dir() -> Path:
    """The bundled sample images."""
    return resources_dir() / "samples"

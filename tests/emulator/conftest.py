"""Fixtures: a fresh emulator per test, and the real SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import cohere
import pytest

from desktop.emulator import Emulator
from tests.imagegen import encoded, graphic, photo

TEST_KEY = "test-key"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[cohere.ClientV2]:
    with cohere.ClientV2(
        api_key=TEST_KEY, base_url=emulator.base_url, max_retries=0, timeout=30
    ) as co:
        yield co


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    """A small photo-like PNG."""
    return encoded(photo(120, 90, seed=1), "PNG")


@pytest.fixture(scope="session")
def jpeg_bytes() -> bytes:
    """A small photo-like JPEG."""
    return encoded(photo(160, 120, seed=2), "JPEG", quality=85)


@pytest.fixture(scope="session")
def webp_bytes() -> bytes:
    """A small graphic WebP."""
    return encoded(graphic(100, 80, seed=3), "WEBP", lossless=True)

"""The body the app predicts is the body the real SDK sends: same bytes, same length.

Every request here goes through the real ``cohere`` SDK and a real ``httpx.Client`` to the
in-process emulator on loopback; an httpx event hook keeps the exact bytes that left.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cohere
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.core import prepare as prep
from desktop.core.images import probe_file
from desktop.core.models import ACCEPTED_MIME, MAX_IMAGE_BYTES, MODELS, RequestShape, Settings
from desktop.core.payload import (
    body_json,
    body_size,
    data_url,
    data_url_chars,
    embed_kwargs,
    envelope_size,
    input_size,
)
from desktop.core.prepare import Prepared, prepare
from desktop.emulator import Emulator
from tests import imagegen as g

V3_MODELS = [name for name, spec in MODELS.items() if spec.shape is RequestShape.IMAGES]
CAPTION = 'Caf\u00e9 "Zur Sonne" \u2014 \u65e5\u672c\u8a9e, \U0001f600, a \\ back\tslash\nand more'


@dataclass
class Sdk:
    """The real SDK on a client whose every request body is kept, and the emulator it talks to."""

    client: cohere.ClientV2
    emulator: Emulator
    bodies: list[bytes] = field(default_factory=list)

    def embed(self, kwargs: dict[str, object]) -> tuple[bytes, cohere.EmbedByTypeResponse]:
        """Send ``embed(**kwargs)`` and return the exact body that went out, and the answer."""
        before = len(self.bodies)
        response = self.client.embed(**kwargs)  # type: ignore[arg-type]
        assert len(self.bodies) == before + 1, "expected exactly one request"
        return self.bodies[-1], response


@pytest.fixture(scope="module")
def sdk() -> Iterator[Sdk]:
    with Emulator() as emu:
        holder = Sdk(client=None, emulator=emu)  # type: ignore[arg-type]

        def keep(request: httpx.Request) -> None:
            holder.bodies.append(request.read())

        with httpx.Client(event_hooks={"request": [keep]}, timeout=30) as http:
            holder.client = cohere.ClientV2(
                api_key="test-key", base_url=emu.base_url, httpx_client=http, max_retries=0
            )
            yield holder


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Prepared]:
    """Four real images, one of each accepted mime, prepared by the real pipeline."""
    tmp = tmp_path_factory.mktemp("payload")
    paths = [
        g.save(g.graphic(120, 90, seed=1), tmp / "graphic.png", "PNG"),
        g.save(g.photo(160, 120, seed=2), tmp / "photo.jpg", "JPEG", quality=85),
        g.save(g.photo(100, 80, seed=3), tmp / "photo.webp", "WEBP", quality=80),
        g.save(g.graphic(90, 70, seed=4).convert("P"), tmp / "graphic.gif", "GIF"),
    ]
    prepared = [prepare(probe_file(p), Settings()) for p in paths]
    assert sorted(p.mime for p in prepared) == sorted(ACCEPTED_MIME.values())
    assert all(p.unchanged for p in prepared)
    return prepared


def _check_body(
    sdk: Sdk,
    s: Settings,
    sent: Sequence[Prepared],
    captions: Sequence[str | None] | None = None,
) -> bytes:
    spec = s.spec
    assert spec is not None
    urls = [prep.data_url(p) for p in sent]
    kwargs = embed_kwargs(s, spec, urls, captions)
    body, response = sdk.embed(kwargs)

    assert body == body_json(kwargs)
    caps = captions or [None] * len(sent)
    sizes = [
        input_size(p.mime, len(p.data), spec.shape, c) for p, c in zip(sent, caps, strict=True)
    ]
    assert len(body) == body_size(envelope_size(s, spec), sizes)

    # The emulator took it, and saw exactly the images the app prepared, in order.
    record = sdk.emulator.requests[-1]
    assert record.status == 200, record.message
    assert record.image_sha256 == tuple(p.sha256 for p in sent)
    assert response.embeddings.float_ is None or len(response.embeddings.float_) == len(sent)
    return body


def test_v4_inputs_of_four_mimes_with_default_dimension(sdk: Sdk, images: list[Prepared]) -> None:
    body = _check_body(sdk, Settings(), images)
    assert b'"output_dimension"' not in body


@pytest.mark.parametrize("dimension", [256, 512, 1024, 1536])
def test_v4_inputs_with_output_dimension_and_every_embedding_type(
    sdk: Sdk, images: list[Prepared], dimension: int
) -> None:
    s = Settings(
        input_type="search_query",
        output_dimension=dimension,
        embedding_types=("float", "int8", "uint8", "binary", "ubinary", "base64"),
    )
    body = _check_body(sdk, s, images[:3])
    assert f'"output_dimension":{dimension}'.encode() in body


def test_v4_inputs_with_captions_in_any_script_and_with_quotes(
    sdk: Sdk, images: list[Prepared]
) -> None:
    s = Settings(input_type="classification", embedding_types=("int8", "float"))
    captions = [CAPTION, None, "plain words", '"quoted"']
    body = _check_body(sdk, s, images, captions)
    assert CAPTION.encode() not in body  # the newline and the tab travel escaped ...
    assert "\u65e5\u672c\u8a9e".encode() in body  # ... the rest as raw UTF-8, not \u escapes


def test_v4_single_image(sdk: Sdk, images: list[Prepared]) -> None:
    _check_body(sdk, Settings(input_type="clustering"), images[1:2])


@pytest.mark.parametrize("model", V3_MODELS)
@pytest.mark.parametrize("index", [0, 1])
def test_v3_images_one_per_request(
    sdk: Sdk, images: list[Prepared], model: str, index: int
) -> None:
    s = Settings(model=model, embedding_types=("float", "ubinary"))
    body = _check_body(sdk, s, images[index : index + 1])
    assert body.startswith(b'{"images":["data:image/')
    assert b'"input_type":"image"' in body


@settings(max_examples=40, deadline=None)
@given(
    caption=st.text(
        st.characters(exclude_categories=["Cs"]),
        min_size=1,
        max_size=30,
    ).filter(lambda t: t.strip() != "")
)
def test_any_caption_is_sized_exactly(sdk: Sdk, images: list[Prepared], caption: str) -> None:
    _check_body(sdk, Settings(), images[:2], [caption, None])


# --------------------------------------------------------------------------------------------
# Data URLs and their lengths, without building them


_LARGE = (
    3 * 1_000_000,
    3 * 1_000_000 + 1,
    3 * 1_000_000 + 2,
    MAX_IMAGE_BYTES - 1,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_BYTES + 1,
)


@pytest.mark.parametrize("mime", sorted(ACCEPTED_MIME.values()))
def test_data_url_chars_is_the_length_of_the_data_url(mime: str) -> None:
    for n in (*range(101), *_LARGE):
        data = os.urandom(n)
        url = data_url(mime, data)
        assert data_url_chars(mime, n) == len(url), n
        head, encoded = url.split(",", 1)
        assert head == f"data:{mime};base64"
        assert "\n" not in encoded
        assert base64.b64decode(encoded, validate=True) == data


def test_prepared_data_url_and_its_length_agree(images: list[Prepared]) -> None:
    for p in images:
        url = prep.data_url(p)
        assert url == data_url(p.mime, p.data)
        assert prep.data_url_chars(p) == len(url)


@pytest.mark.parametrize("model", list(MODELS))
def test_envelope_is_the_body_without_images(model: str) -> None:
    s = Settings(model=model)
    spec = MODELS[model]
    empty = body_json(embed_kwargs(s, spec, []))
    assert envelope_size(s, spec) == len(empty) == body_size(len(empty), [])


def test_input_size_in_images_shape_is_a_json_string_of_the_url(tmp_path: Path) -> None:
    for n in (0, 1, 2, 3, 1000, 123_457):
        url = data_url("image/png", os.urandom(n))
        assert input_size("image/png", n, RequestShape.IMAGES) == len(f'"{url}"')

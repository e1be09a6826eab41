"""Successful embeds through the real SDK: vectors, encodings, image facts, billing."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import cohere
import numpy as np
import pytest

from desktop.core.models import MAX_PIXELS, MIN_PIXELS, MODELS, RequestShape
from desktop.emulator import Emulator, expected_vector
from desktop.emulator.vectors import to_binary, to_int8, to_ubinary, to_uint8
from tests.emulator.helpers import data_url, image_input, rows
from tests.imagegen import (
    animated_gif,
    cmyk_jpeg,
    encoded,
    graphic,
    photo,
    png16,
)

ALL_TYPES = ["float", "int8", "uint8", "binary", "ubinary", "base64"]


def test_v4_inputs_with_three_images_return_every_type(
    emulator: Emulator, client: cohere.ClientV2
) -> None:
    big_jpeg = encoded(graphic(2000, 1600, seed=4), "JPEG", quality=80)
    rgba_png = encoded(graphic(300, 200, seed=5, alpha=True), "PNG")
    tiny_gif = encoded(photo(40, 30, seed=6).convert("P"), "GIF")
    sent = [big_jpeg, rgba_png, tiny_gif]
    urls = [
        data_url(big_jpeg, "image/jpeg"),
        data_url(rgba_png, "image/png"),
        data_url(tiny_gif, "image/gif"),
    ]

    response = client.embed(
        model="embed-v4.0",
        input_type="search_document",
        inputs=[image_input(url) for url in urls],
        embedding_types=ALL_TYPES,
    )

    expected = np.stack([expected_vector(data, "embed-v4.0", "search_document") for data in sent])
    floats = rows(response)
    assert floats.shape == (3, 1536)
    np.testing.assert_array_equal(floats, expected)
    np.testing.assert_allclose(np.linalg.norm(floats, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(rows(response, "int8"), to_int8(expected))
    np.testing.assert_array_equal(rows(response, "uint8"), to_uint8(expected))
    np.testing.assert_array_equal(rows(response, "binary"), to_binary(expected))
    np.testing.assert_array_equal(rows(response, "ubinary"), to_ubinary(expected))
    assert rows(response, "ubinary").shape == (3, 1536 // 8)
    for row, text in zip(expected, response.embeddings.base64 or [], strict=True):
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(text), "<f4"), row)

    images = response.images or []
    assert [(i.format, i.bit_depth) for i in images] == [("jpeg", 24), ("png", 32), ("gif", 8)]
    big, mid, tiny = images
    assert MAX_PIXELS * 0.995 < big.width * big.height <= MAX_PIXELS
    assert big.width / big.height == pytest.approx(2000 / 1600, rel=0.01)
    assert (mid.width, mid.height) == (300, 200)
    assert MIN_PIXELS <= tiny.width * tiny.height < MIN_PIXELS * 1.1
    assert tiny.width / tiny.height == pytest.approx(40 / 30, rel=0.05)

    assert response.id
    assert response.response_type == "embeddings_by_type"
    assert response.meta is not None
    assert response.meta.api_version is not None
    assert response.meta.api_version.version == "2"
    billed = response.meta.billed_units
    assert billed is not None
    assert billed.images == 3
    assert billed.image_tokens is not None
    assert billed.image_tokens > 3
    assert emulator.billed_images == 3
    (record,) = emulator.requests
    assert record.image_sha256 == tuple(hashlib.sha256(d).hexdigest() for d in sent)


@pytest.mark.parametrize("dimension", [256, 512, 1024, 1536])
def test_output_dimension_is_a_normalised_prefix(
    client: cohere.ClientV2, png_bytes: bytes, dimension: int
) -> None:
    response = client.embed(
        model="embed-v4.0",
        input_type="search_document",
        inputs=[image_input(data_url(png_bytes, "image/png"))],
        output_dimension=dimension,
        embedding_types=["float", "ubinary"],
    )

    vector = rows(response)[0]
    assert vector.shape == (dimension,)
    np.testing.assert_array_equal(
        vector, expected_vector(png_bytes, "embed-v4.0", "search_document", dimension)
    )
    full = expected_vector(png_bytes, "embed-v4.0", "search_document", 1536)
    prefix = full[:dimension] / np.linalg.norm(full[:dimension])
    np.testing.assert_allclose(vector, prefix, rtol=1e-5, atol=1e-7)
    assert rows(response, "ubinary").shape == (1, dimension // 8)


def test_v4_images_field_with_input_type_image_means_search_document(
    client: cohere.ClientV2, png_bytes: bytes, jpeg_bytes: bytes
) -> None:
    response = client.embed(
        model="embed-v4.0",
        input_type="image",
        images=[data_url(png_bytes, "image/png"), data_url(jpeg_bytes, "image/jpeg")],
        embedding_types=["float"],
    )

    floats = rows(response)
    assert floats.shape == (2, 1536)
    np.testing.assert_array_equal(
        floats[0], expected_vector(png_bytes, "embed-v4.0", "search_document")
    )
    query = expected_vector(png_bytes, "embed-v4.0", "search_query")
    assert not np.array_equal(floats[0], query)


@pytest.mark.parametrize(
    "model", [name for name, spec in MODELS.items() if spec.shape is RequestShape.IMAGES]
)
def test_v3_images_field_with_one_image(
    emulator: Emulator, client: cohere.ClientV2, webp_bytes: bytes, model: str
) -> None:
    response = client.embed(
        model=model,
        input_type="image",
        images=[data_url(webp_bytes, "image/webp")],
        embedding_types=["float", "int8"],
    )

    dimension = MODELS[model].default_dimension
    vector = rows(response)[0]
    assert vector.shape == (dimension,)
    np.testing.assert_array_equal(vector, expected_vector(webp_bytes, model, "image"))
    assert [(i.width, i.height, i.format) for i in response.images or []] == [(100, 80, "webp")]
    assert emulator.billed_images == 1


def test_a_caption_and_an_image_in_one_input_make_one_vector(
    client: cohere.ClientV2, png_bytes: bytes
) -> None:
    url = data_url(png_bytes, "image/png")
    response = client.embed(
        model="embed-v4.0",
        input_type="search_document",
        inputs=[image_input(url, caption="a red square"), image_input(url)],
        embedding_types=["float"],
    )

    captioned, bare = rows(response)
    np.testing.assert_array_equal(bare, expected_vector(png_bytes, "embed-v4.0", "search_document"))
    assert not np.allclose(captioned, bare)
    billed = response.meta.billed_units if response.meta else None
    assert billed is not None
    assert billed.images == 2
    assert billed.input_tokens


def test_texts_are_embedded_and_echoed(client: cohere.ClientV2) -> None:
    response = client.embed(
        model="embed-v4.0",
        input_type="search_query",
        texts=["a cat", "a dog"],
        embedding_types=["float"],
    )

    assert response.texts == ["a cat", "a dog"]
    assert response.images == []
    first, second = rows(response)
    assert first.shape == (1536,)
    assert not np.allclose(first, second)


def test_the_same_image_gets_the_same_vector_in_every_request(
    client: cohere.ClientV2, png_bytes: bytes, jpeg_bytes: bytes
) -> None:
    def embed(data: bytes, mime: str) -> np.ndarray[Any, np.dtype[np.float32]]:
        response = client.embed(
            model="embed-v4.0",
            input_type="search_document",
            inputs=[image_input(data_url(data, mime))],
            embedding_types=["float"],
        )
        vector: np.ndarray[Any, np.dtype[np.float32]] = rows(response)[0]
        return vector

    first = embed(png_bytes, "image/png")
    np.testing.assert_array_equal(first, embed(png_bytes, "image/png"))
    assert not np.allclose(first, embed(jpeg_bytes, "image/jpeg"))


def test_awkward_but_valid_images_are_accepted(client: cohere.ClientV2, tmp_path) -> None:
    cmyk = cmyk_jpeg(tmp_path / "cmyk.jpg", 90, 70).read_bytes()
    deep = png16(tmp_path / "deep.png", 80, 60).read_bytes()
    moving = animated_gif(tmp_path / "moving.gif", 64, 48, frames=3).read_bytes()

    response = client.embed(
        model="embed-v4.0",
        input_type="search_document",
        inputs=[
            image_input(data_url(cmyk, "image/jpeg")),
            image_input(data_url(deep, "image/png")),
            image_input(data_url(moving, "image/gif")),
        ],
        embedding_types=["float"],
    )

    images = response.images or []
    assert [(i.format, i.bit_depth) for i in images] == [("jpeg", 32), ("png", 16), ("gif", 8)]
    assert (images[0].width, images[0].height) == (90, 70)
    assert (images[1].width, images[1].height) == (80, 60)
    assert rows(response).shape == (3, 1536)

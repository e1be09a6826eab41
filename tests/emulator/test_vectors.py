"""The stand-in vectors and their encodings."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from desktop.emulator import expected_vector
from desktop.emulator.vectors import encode_all, to_base64, to_binary, to_int8, to_ubinary, to_uint8


def test_vectors_are_unit_float32_and_deterministic() -> None:
    first = expected_vector(b"some image bytes", "embed-v4.0", "search_document")

    assert first.dtype == np.float32
    assert first.shape == (1536,)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(
        first, expected_vector(b"some image bytes", "embed-v4.0", "search_document")
    )


@pytest.mark.parametrize(
    ("content", "model", "input_type"),
    [
        (b"other bytes", "embed-v4.0", "search_document"),
        (b"some image bytes", "embed-v4.0", "search_query"),
        (b"some image bytes", "embed-multilingual-v3.0", "image"),
    ],
)
def test_content_model_and_input_type_each_change_the_vector(
    content: bytes, model: str, input_type: str
) -> None:
    base = expected_vector(b"some image bytes", "embed-v4.0", "search_document", 1024)

    other = expected_vector(content, model, input_type, 1024)

    assert abs(float(base @ other)) < 0.2


def test_v4_image_input_type_is_search_document() -> None:
    np.testing.assert_array_equal(
        expected_vector(b"x", "embed-v4.0", "image"),
        expected_vector(b"x", "embed-v4.0", "search_document"),
    )


def test_light_models_give_384_dimensions() -> None:
    assert expected_vector(b"x", "embed-english-light-v3.0", "image").shape == (384,)


def test_int8_and_uint8_are_the_same_scale_shifted_by_128() -> None:
    vectors = np.stack([expected_vector(bytes([i]), "embed-v4.0", "clustering") for i in range(4)])

    signed, unsigned = to_int8(vectors), to_uint8(vectors)

    assert signed.dtype == np.int8
    assert unsigned.dtype == np.uint8
    np.testing.assert_array_equal(unsigned.astype(int) - 128, signed.astype(int))
    assert set(np.abs(signed.astype(int)).max(axis=1)) == {127}
    relative = vectors / np.abs(vectors).max(axis=1, keepdims=True)
    np.testing.assert_allclose(signed / 127, relative, atol=0.5 / 127 + 1e-6)


def test_binary_packs_sign_bits_first_dimension_high() -> None:
    vector = np.array([[0.5, -0.1, -0.2, 0.3, -0.4, -0.5, 0.6, 0.7, -0.1] + [-0.1] * 7], np.float32)

    packed = to_ubinary(vector)

    assert packed.tolist() == [[0b10010011, 0b00000000]]
    assert to_binary(vector).tolist() == [[0b10010011 - 128, -128]]
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1).astype(bool), vector > 0)


def test_base64_is_little_endian_float32() -> None:
    vector = expected_vector(b"x", "embed-v4.0", "search_document", 256)

    (text,) = to_base64(vector)

    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(text), "<f4"), vector)


def test_encode_all_gives_only_what_was_asked() -> None:
    vectors = np.stack([expected_vector(b"x", "embed-v4.0", "search_document", 512)])

    encoded = encode_all(vectors, ["ubinary", "float"])

    assert list(encoded) == ["ubinary", "float"]
    assert np.asarray(encoded["ubinary"]).shape == (1, 64)

"""Deterministic stand-in embeddings, traceable to the content that produced them.

A vector is drawn from a normal distribution seeded by SHA-256 of (content digest, model,
input type), made at the model's largest dimension, cut to the requested length (a prefix, as
Matryoshka embeddings are) and scaled to unit length in float32. An image's content digest is
the SHA-256 of its bytes, so a test holding a file can predict its vector with
:func:`expected_vector`.

Encodings, all derived from the float vector:

- ``int8``: ``round(v * 127 / max|v|)``; ``uint8`` is ``int8 + 128``.
- ``ubinary``: sign bits (``v > 0``) packed eight to a byte, first dimension in the high bit;
  ``binary`` is ``ubinary - 128`` as int8 (the convention of sentence-transformers'
  ``quantize_embeddings``; Hamming distances are the same either way).
- ``base64``: base64 of the little-endian float32 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pybase64
from numpy.typing import NDArray

from desktop.core.models import MODELS, EmbeddingType
from desktop.emulator.behaviour import effective_input_type

FloatVectors = NDArray[np.float32]


def image_digest(image_bytes: bytes) -> bytes:
    """The content digest of an image: SHA-256 of its bytes."""
    return hashlib.sha256(image_bytes).digest()


def text_digest(text: str) -> bytes:
    """The content digest of a text part (tagged so it never equals an image's)."""
    return hashlib.sha256(b"text\x00" + text.encode("utf-8")).digest()


def combined_digest(part_digests: Sequence[bytes]) -> bytes:
    """The digest of one input: its only part's digest, or a hash over all parts in order."""
    if len(part_digests) == 1:
        return part_digests[0]
    return hashlib.sha256(b"parts\x00" + b"".join(part_digests)).digest()


def vector_for(digest: bytes, model: str, input_type: str, dimension: int) -> FloatVectors:
    """The unit float32 vector of length *dimension* for content *digest*.

    *input_type* must already be the one the model applies (see
    :func:`desktop.emulator.behaviour.effective_input_type`).
    """
    full_dimension = max(MODELS[model].dimensions)
    seed = hashlib.sha256(
        digest + b"\x00" + model.encode() + b"\x00" + input_type.encode()
    ).digest()
    rng = np.random.default_rng(int.from_bytes(seed, "little"))
    vector = rng.standard_normal(full_dimension, dtype=np.float32)[:dimension]
    norm = np.float32(np.linalg.norm(vector))
    return np.ascontiguousarray(vector / norm, dtype=np.float32)


def expected_vector(
    image_bytes: bytes, model: str, input_type: str, dimension: int | None = None
) -> FloatVectors:
    """The float vector the emulator returns for an input made of this one image.

    *input_type* is the one sent (``image`` on embed-v4.0 gives the ``search_document``
    vector, as the API documents); *dimension* defaults to the model's default.
    """
    spec = MODELS[model]
    return vector_for(
        image_digest(image_bytes),
        model,
        effective_input_type(spec, input_type),
        dimension if dimension is not None else spec.default_dimension,
    )


def to_int8(vectors: FloatVectors) -> NDArray[np.int8]:
    """Signed bytes: each vector scaled so its largest magnitude becomes 127."""
    peak = np.maximum(np.max(np.abs(vectors), axis=-1, keepdims=True), np.float32(1e-30))
    scaled: NDArray[np.float32] = np.rint(vectors * (np.float32(127) / peak))
    return np.clip(scaled, -128, 127).astype(np.int8)


def to_uint8(vectors: FloatVectors) -> NDArray[np.uint8]:
    """Unsigned bytes: :func:`to_int8` shifted up by 128."""
    return (to_int8(vectors).astype(np.int16) + 128).astype(np.uint8)


def to_ubinary(vectors: FloatVectors) -> NDArray[np.uint8]:
    """Sign bits packed eight per byte (dimension / 8 values per vector)."""
    return np.packbits(vectors > 0, axis=-1)


def to_binary(vectors: FloatVectors) -> NDArray[np.int8]:
    """:func:`to_ubinary` shifted down by 128, as signed bytes."""
    return (to_ubinary(vectors).astype(np.int16) - 128).astype(np.int8)


def to_base64(vectors: FloatVectors) -> list[str]:
    """One base64 string per vector: its little-endian float32 bytes."""
    rows = np.atleast_2d(vectors).astype("<f4", copy=False)
    return [pybase64.b64encode(row.tobytes()).decode("ascii") for row in rows]


def _as_float32(vectors: FloatVectors) -> NDArray[np.generic]:
    return np.ascontiguousarray(vectors, dtype=np.float32)


def encode_all(
    vectors: FloatVectors, embedding_types: Sequence[str]
) -> dict[str, NDArray[np.generic] | list[str]]:
    """The ``embeddings`` object of a response: each requested type, one row per vector."""
    encoders: dict[str, Callable[[FloatVectors], NDArray[np.generic] | list[str]]] = {
        EmbeddingType.FLOAT.value: _as_float32,
        EmbeddingType.INT8.value: to_int8,
        EmbeddingType.UINT8.value: to_uint8,
        EmbeddingType.BINARY.value: to_binary,
        EmbeddingType.UBINARY.value: to_ubinary,
        EmbeddingType.BASE64.value: to_base64,
    }
    return {name: encoders[name](vectors) for name in embedding_types}

"""The bodies of successful answers: ``EmbedByTypeResponse`` and the key check, plus the two
ways a fault spoils a success (a cut-short body, a wrong number of vectors)."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from desktop.emulator.auth import ORGANIZATION_ID, owner_id
from desktop.emulator.behaviour import image_tokens, seen_size, text_tokens
from desktop.emulator.judge import EmbedJob
from desktop.emulator.vectors import encode_all, vector_for


def embed_payload(job: EmbedJob, response_id: str) -> dict[str, Any]:
    """The ``EmbedByTypeResponse`` for an accepted job (numpy arrays inside; see :func:`dump`)."""
    vectors = np.stack(
        [
            vector_for(item.digest, job.spec.name, job.input_type, job.dimension)
            for item in job.items
        ]
    )
    images = []
    tokens = 0
    for image in job.images:
        width, height = seen_size(job.spec, image.width, image.height)
        tokens += image_tokens(width, height)
        images.append(
            {"width": width, "height": height, "format": image.format, "bit_depth": image.bit_depth}
        )
    billed: dict[str, int] = {}
    if images:
        billed["images"] = len(images)
        billed["image_tokens"] = tokens
    texts = [part for item in job.items for part in item.parts if isinstance(part, str)]
    if texts:
        billed["input_tokens"] = sum(text_tokens(text) for text in texts)
    return {
        "id": response_id,
        "embeddings": encode_all(vectors, job.embedding_types),
        "texts": list(job.texts),
        "images": images,
        "meta": {"api_version": {"version": "2"}, "billed_units": billed},
        "response_type": "embeddings_by_type",
    }


def with_vector_count_off(payload: dict[str, Any], extra: int) -> dict[str, Any]:
    """*payload* with *extra* vectors added (repeating the first) or removed from every type."""
    spoiled: dict[str, Any] = {}
    for name, rows in payload["embeddings"].items():
        if extra < 0:
            spoiled[name] = rows[: max(0, len(rows) + extra)]
        elif isinstance(rows, list):
            spoiled[name] = rows + rows[:1] * extra
        else:
            spoiled[name] = np.concatenate([rows, np.repeat(rows[:1], extra, axis=0)])
    return {**payload, "embeddings": spoiled}


def dump(payload: dict[str, Any]) -> bytes:
    """Serialise a payload (numpy arrays written as JSON arrays)."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def cut_short(body: bytes) -> bytes:
    """The first half of a JSON object's text: never valid JSON, as its closing brace is gone."""
    return body[: max(1, len(body) // 2)]


def key_check_payload(key: str) -> dict[str, Any]:
    """The ``/v1/check-api-key`` answer for an accepted key."""
    return {"valid": True, "organization_id": ORGANIZATION_ID, "owner_id": owner_id(key)}

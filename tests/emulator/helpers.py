"""Small builders shared by the emulator tests: data URLs, inputs, raw posts, typed reads."""

from __future__ import annotations

import base64
from typing import Any

import cohere
import httpx
import numpy as np
import orjson
from cohere.base_client import BaseCohere
from cohere.types import CheckApiKeyResponse
from numpy.typing import NDArray


def data_url(data: bytes, mime: str) -> str:
    """A base64 data URL of *data* labelled *mime*."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_input(url: str, caption: str | None = None) -> cohere.EmbedInput:
    """One ``inputs`` entry holding an image (after an optional caption)."""
    parts: list[cohere.TextEmbedContent | cohere.ImageUrlEmbedContent] = []
    if caption is not None:
        parts.append(cohere.TextEmbedContent(text=caption))
    parts.append(cohere.ImageUrlEmbedContent(image_url=cohere.EmbedImageUrl(url=url)))
    return cohere.EmbedInput(content=parts)


def rows(response: cohere.EmbedByTypeResponse, name: str = "float_") -> NDArray[Any]:
    """One embedding type of a response as an array (float32 for ``float_``)."""
    values = getattr(response.embeddings, name)
    assert values is not None, f"the response has no {name} embeddings"
    return np.asarray(values, dtype=np.float32 if name == "float_" else None)


def check_key(co: cohere.ClientV2) -> CheckApiKeyResponse:
    """Call ``POST /v1/check-api-key``.

    ``ClientV2.check_api_key()`` raises ``ValueError`` ("deprecated") in cohere 7.3.1; the base
    client's method still reaches the endpoint.
    """
    return BaseCohere.check_api_key(co)


def raw_post(
    base_url: str, path: str, body: bytes | dict[str, Any], key: str | None = "test-key"
) -> httpx.Response:
    """POST *body* (bytes sent as they are, or a dict as JSON) with httpx, bypassing the SDK."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return client.post(path, content=content, headers=headers)

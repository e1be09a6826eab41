"""The request bodies exactly as the SDK sends them, and their sizes without building them.

The SDK serialises bodies as compact UTF-8 JSON (httpx: no spaces, ``ensure_ascii=False``) with
keys in a fixed order. Knowing that, the size of a body is its envelope plus the size of each
input plus the commas between them, so the plan can count bytes for thousands of images without
building a single data URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
import pybase64

from desktop.core.models import ModelSpec, RequestShape, Settings

_IMAGE_PART_HEAD: Final = '{"type":"image_url","image_url":{"url":"'
_IMAGE_PART_TAIL: Final = '"}}'
_CONTENT_HEAD: Final = '{"content":['
_CONTENT_TAIL: Final = "]}"


def data_url_prefix(mime: str) -> str:
    """``data:<mime>;base64,``."""
    return f"data:{mime};base64,"


def data_url(mime: str, data: bytes) -> str:
    """The data URL of *data* (base64, no line breaks)."""
    return data_url_prefix(mime) + pybase64.b64encode_as_string(data)


def data_url_chars(mime: str, nbytes: int) -> int:
    """The length of the data URL of *nbytes* bytes, without building it."""
    return len(data_url_prefix(mime)) + 4 * ((nbytes + 2) // 3)


def _text_part_json(caption: str) -> bytes:
    return orjson.dumps({"type": "text", "text": caption})


def input_size(mime: str, nbytes: int, shape: RequestShape, caption: str | None = None) -> int:
    """Serialised bytes one image adds to a request body (without the comma between inputs)."""
    url = data_url_chars(mime, nbytes)
    if shape is RequestShape.IMAGES:
        return url + 2  # the quotes around the string in "images":[...]
    size = len(_CONTENT_HEAD) + len(_IMAGE_PART_HEAD) + url + len(_IMAGE_PART_TAIL)
    size += len(_CONTENT_TAIL)
    if caption:
        size += len(_text_part_json(caption)) + 1
    return size


def image_input(url: str, caption: str | None = None) -> dict[str, Any]:
    """One element of ``inputs=``: an optional caption part, then the image part."""
    parts: list[dict[str, Any]] = []
    if caption:
        parts.append({"type": "text", "text": caption})
    parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"content": parts}


def embed_kwargs(
    settings: Settings,
    spec: ModelSpec,
    urls: Sequence[str],
    captions: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``ClientV2.embed`` carrying *urls* under *settings*."""
    kwargs: dict[str, Any] = {"model": settings.model, "input_type": settings.effective_input_type}
    if spec.shape is RequestShape.IMAGES:
        kwargs["images"] = list(urls)
    else:
        caps = captions or [None] * len(urls)
        kwargs["inputs"] = [image_input(u, c) for u, c in zip(urls, caps, strict=True)]
    if spec.configurable_dimension and settings.output_dimension is not None:
        kwargs["output_dimension"] = settings.output_dimension
    kwargs["embedding_types"] = list(settings.embedding_types)
    return kwargs


#: The order in which the SDK writes body keys (the order of ``V2Client.embed``'s parameters).
_SDK_KEY_ORDER: Final = (
    "texts",
    "images",
    "model",
    "input_type",
    "inputs",
    "max_tokens",
    "output_dimension",
    "embedding_types",
    "truncate",
    "priority",
)


def body_json(kwargs: dict[str, Any]) -> bytes:
    """The body the SDK sends for ``embed(**kwargs)``, byte for byte."""
    ordered = {k: kwargs[k] for k in _SDK_KEY_ORDER if k in kwargs}
    return orjson.dumps(ordered)


def envelope_size(settings: Settings, spec: ModelSpec) -> int:
    """Bytes of a body with an empty image list (the fixed part every request pays)."""
    return len(body_json(embed_kwargs(settings, spec, [])))


def body_size(envelope: int, input_sizes: Sequence[int]) -> int:
    """Bytes of a body holding inputs of *input_sizes* (commas between them included)."""
    if not input_sizes:
        return envelope
    return envelope + sum(input_sizes) + len(input_sizes) - 1

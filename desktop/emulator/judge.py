"""Judge a ``POST /v2/embed`` body as the API would, and say what to embed.

This is a second opinion, written apart from the app's own rules: it reads facts from
:mod:`desktop.core.models` and nothing else of the app. Checks run in a fixed order (JSON, model,
which field carries the content, input type, embedding types, output dimension, scalar options,
then every input and image), and the first failure is the answer, as a ``Refusal``. Messages
follow the documented ones (``invalid request: ...``) and name the index of the bad element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from desktop.core.models import (
    MAX_INPUTS_PER_REQUEST,
    MODELS,
    RETIRED_MODELS,
    EmbeddingType,
    InputType,
    ModelSpec,
    RequestShape,
)
from desktop.emulator.behaviour import effective_input_type
from desktop.emulator.dataurl import DecodedImage, decode_image_url
from desktop.emulator.refusal import Refusal, invalid
from desktop.emulator.vectors import combined_digest, image_digest, text_digest

#: Fields that carry what is embedded; a request names exactly one of them.
CONTENT_FIELDS: Final = ("texts", "images", "inputs")
#: Input types for texts and ``inputs`` (``image`` is only for the ``images`` field).
TEXT_INPUT_TYPES: Final = frozenset(t.value for t in InputType if t is not InputType.IMAGE)
ALL_INPUT_TYPES: Final = frozenset(t.value for t in InputType)
EMBEDDING_TYPES: Final = tuple(t.value for t in EmbeddingType)
TRUNCATE_VALUES: Final = ("NONE", "START", "END")
MAX_PRIORITY: Final = 999


@dataclass(frozen=True, slots=True)
class EmbedItem:
    """One input, which becomes one vector: its parts in order (a ``str`` is a text part)."""

    parts: tuple[str | DecodedImage, ...]

    @property
    def images(self) -> tuple[DecodedImage, ...]:
        """The image parts of this input."""
        return tuple(p for p in self.parts if isinstance(p, DecodedImage))

    @property
    def digest(self) -> bytes:
        """The content digest that seeds this input's vector."""
        return combined_digest(
            [text_digest(p) if isinstance(p, str) else image_digest(p.data) for p in self.parts]
        )


@dataclass(frozen=True, slots=True)
class EmbedJob:
    """An accepted request: what to embed and how to answer.

    Attributes:
        spec: the model asked for.
        input_type: the input type the model applies (``image`` on v4 reads as
            ``search_document``).
        dimension: the vector length to return.
        embedding_types: the encodings asked for, in request order, without repeats.
        items: one entry per vector to return.
        texts: the texts to echo in the response's ``texts`` field.
    """

    spec: ModelSpec
    input_type: str
    dimension: int
    embedding_types: tuple[str, ...]
    items: tuple[EmbedItem, ...]
    texts: tuple[str, ...]

    @property
    def images(self) -> tuple[DecodedImage, ...]:
        """Every image in the request, in order."""
        return tuple(image for item in self.items for image in item.images)


def judge_embed(body: bytes) -> EmbedJob:
    """Accept *body* as an embed request, or raise ``Refusal`` with the API's answer."""
    request = _parse(body)
    spec = _model(request)
    field = _content_field(request)
    input_type = _input_type(request, spec, field)
    embedding_types = _embedding_types(request)
    dimension = _dimension(request, spec)
    _scalars(request)
    if field == "texts":
        texts = _texts(request["texts"])
        items = tuple(EmbedItem((text,)) for text in texts)
    elif field == "images":
        items = _images(request["images"], spec)
        texts = ()
    else:
        items = _inputs(request["inputs"], spec)
        texts = ()
    return EmbedJob(
        spec=spec,
        input_type=effective_input_type(spec, input_type),
        dimension=dimension,
        embedding_types=embedding_types,
        items=items,
        texts=texts,
    )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, f"invalid json syntax: {exc}") from None
    if not isinstance(request, dict):
        raise invalid("the request body must be a JSON object")
    return request


def _model(request: dict[str, Any]) -> ModelSpec:
    model = request.get("model")
    if model is None or model == "":
        raise Refusal(400, "a model parameter is required for this endpoint.")
    if not isinstance(model, str):
        raise invalid("model must be a string")
    if model in RETIRED_MODELS:
        raise Refusal(
            404,
            f"model '{model}' was retired on 2026-04-04 and can no longer be used; "
            "use embed-v4.0 or an embed v3.0 model.",
        )
    spec = MODELS.get(model)
    if spec is None:
        raise Refusal(
            404,
            f"model '{model}' not found, make sure the correct model ID was used and that "
            "you have access to the model.",
        )
    return spec


def _content_field(request: dict[str, Any]) -> str:
    present = [name for name in CONTENT_FIELDS if request.get(name) is not None]
    if not present:
        raise invalid("one of texts, images or inputs must be provided")
    if len(present) > 1:
        raise invalid(
            f"send only one of texts, images or inputs - received {' and '.join(present)}"
        )
    return present[0]


def _input_type(request: dict[str, Any], spec: ModelSpec, field: str) -> str:
    input_type = request.get("input_type")
    if field == "images" and spec.shape is RequestShape.IMAGES:
        if input_type != InputType.IMAGE:
            raise invalid("images must be used with input_type=image")
        return InputType.IMAGE.value
    allowed = ALL_INPUT_TYPES if field == "images" else TEXT_INPUT_TYPES
    if not isinstance(input_type, str) or input_type not in allowed:
        if input_type == InputType.IMAGE:
            raise invalid(f"input_type=image can only be used with images, not with {field}")
        raise invalid("valid input_type must be provided with the provided model")
    return input_type


def _embedding_types(request: dict[str, Any]) -> tuple[str, ...]:
    types = request.get("embedding_types")
    if types is None:
        raise Refusal(400, "embedding_types parameter is required")
    if not isinstance(types, list) or not types:
        raise invalid("embedding_types must be a non-empty list")
    for index, name in enumerate(types):
        if name not in EMBEDDING_TYPES:
            raise invalid(
                f"embedding_types[{index}] is {name!r}; "
                f"valid types are {', '.join(EMBEDDING_TYPES)}"
            )
    return tuple(dict.fromkeys(types))


def _dimension(request: dict[str, Any], spec: ModelSpec) -> int:
    dimension = request.get("output_dimension")
    if dimension is None:
        return spec.default_dimension
    if not _is_int(dimension):
        raise invalid("output_dimension must be an integer")
    if not spec.configurable_dimension:
        raise invalid(
            f"output_dimension is only available for embed-v4.0 and newer models, not {spec.name}"
        )
    if dimension not in spec.dimensions:
        allowed = ", ".join(str(d) for d in sorted(spec.dimensions))
        raise invalid(f"output_dimension must be one of {allowed} - received {dimension}")
    return int(dimension)


def _scalars(request: dict[str, Any]) -> None:
    truncate = request.get("truncate")
    if truncate is not None and truncate not in TRUNCATE_VALUES:
        raise invalid(f"truncate must be one of NONE, START, END - received {truncate!r}")
    priority = request.get("priority")
    if priority is not None and (not _is_int(priority) or not 0 <= priority <= MAX_PRIORITY):
        raise invalid(
            f"priority must be an integer from 0 to {MAX_PRIORITY} - received {priority!r}"
        )
    max_tokens = request.get("max_tokens")
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens < 1):
        raise invalid(f"max_tokens must be a positive integer - received {max_tokens!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sized_list(value: object, field: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(f"{field} must be a list")
    if not value:
        raise invalid(f"{field} must contain at least one element")
    if len(value) > most:
        raise invalid(f"total number of {field} must be at most {most} - received {len(value)}")
    return value


def _texts(value: object) -> tuple[str, ...]:
    texts = _sized_list(value, "texts", MAX_INPUTS_PER_REQUEST)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise invalid(f"texts[{index}] must be a string")
        if not text:
            raise invalid(f"texts contains an element that is the empty string at index {index}")
    return tuple(texts)


def _images(value: object, spec: ModelSpec) -> tuple[EmbedItem, ...]:
    single = spec.max_images_per_request == 1
    if single and isinstance(value, list) and len(value) > 1:
        raise invalid(f"{spec.name} takes 1 image per request - received {len(value)}")
    urls = _sized_list(value, "images", spec.max_images_per_request)
    return tuple(
        EmbedItem((decode_image_url(url, f"images[{index}]"),)) for index, url in enumerate(urls)
    )


def _inputs(value: object, spec: ModelSpec) -> tuple[EmbedItem, ...]:
    inputs = _sized_list(value, "inputs", MAX_INPUTS_PER_REQUEST)
    return tuple(_input(entry, index, spec) for index, entry in enumerate(inputs))


def _input(entry: object, index: int, spec: ModelSpec) -> EmbedItem:
    where = f"inputs[{index}]"
    if not isinstance(entry, dict):
        raise invalid(f"{where} must be an object with a 'content' list")
    content = entry.get("content")
    if not isinstance(content, list) or not content:
        raise invalid(f"{where}.content must be a non-empty list of content parts")
    return EmbedItem(
        tuple(_part(part, f"{where}.content[{i}]", index, spec) for i, part in enumerate(content))
    )


def _part(part: object, where: str, input_index: int, spec: ModelSpec) -> str | DecodedImage:
    if not isinstance(part, dict):
        raise invalid(f"{where} must be an object with a 'type' of 'text' or 'image_url'")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise invalid(f"{where}.text must be a string")
        if not text:
            raise invalid(
                f"inputs contains an element that is the empty string at index {input_index}"
            )
        return text
    if kind == "image_url":
        if spec.shape is RequestShape.IMAGES:
            raise invalid(
                f"{where} is an image, but {spec.name} takes images only through the images "
                "field with input_type=image"
            )
        image_url = part.get("image_url")
        if isinstance(image_url, str):
            raise invalid(
                f'{where}.image_url must be an object {{"url": "data:..."}}, not a bare string'
            )
        if not isinstance(image_url, dict) or "url" not in image_url:
            raise invalid(f"{where}.image_url must be an object with a 'url' field")
        return decode_image_url(image_url["url"], f"{where}.image_url.url")
    if kind == "image":
        raise invalid(
            f"{where} has type 'image', which is not a content type; send an image as "
            '{"type": "image_url", "image_url": {"url": "data:..."}}'
        )
    if kind is None:
        raise invalid(f"{where} has no 'type'; use 'text' or 'image_url'")
    raise invalid(f"{where} has unknown type {kind!r}; use 'text' or 'image_url'")

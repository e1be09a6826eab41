"""What each image-capable Cohere model accepts, and the settings a user picks for a run.

This module holds facts only (numbers, names, allowed values). The rules that judge an image
or a request against these facts live in :mod:`desktop.core.rules`; the emulator reads the same
facts but judges requests with its own code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

#: Per-image byte limit: the app counts the image bytes, not their base64 form.
MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024
#: Whole request body limit: the serialized JSON body, read the stricter (decimal) way.
MAX_BODY_BYTES: Final = 20 * 1000 * 1000
#: Above this many pixels embed-v4.0 downsamples; the app resizes to at most this first.
MAX_PIXELS: Final = 2_458_624
#: Below this many pixels (56 x 56) the API upsamples.
MIN_PIXELS: Final = 3_136
#: Beyond this declared pixel count the app refuses to decode at all.
DECOMPRESSION_BOMB_PIXELS: Final = 180_000_000
#: The most inputs one v2 request takes (the `inputs` array is capped at 96).
MAX_INPUTS_PER_REQUEST: Final = 96

#: Mime types the API accepts inside a data URL, keyed by the format name the probe reports.
ACCEPTED_MIME: Final[dict[str, str]] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
}


class InputType(StrEnum):
    """The ``input_type`` values the Embed API knows."""

    SEARCH_DOCUMENT = "search_document"
    SEARCH_QUERY = "search_query"
    CLASSIFICATION = "classification"
    CLUSTERING = "clustering"
    IMAGE = "image"


class EmbeddingType(StrEnum):
    """The ``embedding_types`` values the Embed API can return."""

    FLOAT = "float"
    INT8 = "int8"
    UINT8 = "uint8"
    BINARY = "binary"
    UBINARY = "ubinary"
    BASE64 = "base64"


class RequestShape(StrEnum):
    """How images travel in a request body."""

    #: ``inputs=[{"content": [{"type": "image_url", ...}]}]``, many per request (v4).
    INPUTS = "inputs"
    #: ``images=[DATA_URL]`` with ``input_type="image"``, one per request (v3).
    IMAGES = "images"


V4_INPUT_TYPES: Final = (
    InputType.SEARCH_DOCUMENT,
    InputType.SEARCH_QUERY,
    InputType.CLASSIFICATION,
    InputType.CLUSTERING,
)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What one image-capable model accepts.

    Attributes:
        name: the model id sent as ``model``.
        label: a short human name for menus.
        shape: how images are carried in the request.
        max_images_per_request: how many images one request may hold.
        input_types: the ``input_type`` values allowed with images, the first being the default.
        dimensions: the output dimensions on offer; the first is the default.
        configurable_dimension: whether ``output_dimension`` may be sent at all.
        resizes_large_images: whether the server downsamples above :data:`MAX_PIXELS`.
    """

    name: str
    label: str
    shape: RequestShape
    max_images_per_request: int
    input_types: tuple[InputType, ...]
    dimensions: tuple[int, ...]
    configurable_dimension: bool
    resizes_large_images: bool

    @property
    def default_dimension(self) -> int:
        """The vector length returned when no ``output_dimension`` is sent."""
        return self.dimensions[0]

    @property
    def default_input_type(self) -> InputType:
        """The input type the app picks for this model when the user has not chosen one."""
        return self.input_types[0]


def _v3(name: str, label: str, dimension: int) -> ModelSpec:
    return ModelSpec(
        name=name,
        label=label,
        shape=RequestShape.IMAGES,
        max_images_per_request=1,
        input_types=(InputType.IMAGE,),
        dimensions=(dimension,),
        configurable_dimension=False,
        resizes_large_images=False,
    )


#: Every model the app can embed images with, in the order menus show them.
MODELS: Final[dict[str, ModelSpec]] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="embed-v4.0",
            label="Embed v4 (images and text, recommended)",
            shape=RequestShape.INPUTS,
            max_images_per_request=MAX_INPUTS_PER_REQUEST,
            input_types=V4_INPUT_TYPES,
            dimensions=(1536, 1024, 512, 256),
            configurable_dimension=True,
            resizes_large_images=True,
        ),
        _v3("embed-english-v3.0", "Embed v3 English", 1024),
        _v3("embed-multilingual-v3.0", "Embed v3 Multilingual", 1024),
        _v3("embed-english-light-v3.0", "Embed v3 English Light", 384),
        _v3("embed-multilingual-light-v3.0", "Embed v3 Multilingual Light", 384),
    )
}

#: Model ids that once took images and now fail (retired on 2026-04-04).
RETIRED_MODELS: Final = frozenset(
    {
        "embed-english-v2.0",
        "embed-english-light-v2.0",
        "embed-multilingual-v2.0",
    }
)

DEFAULT_MODEL: Final = "embed-v4.0"


class RateLimit(StrEnum):
    """The pacing presets a user picks from (images per minute)."""

    TRIAL = "trial"
    PRODUCTION = "production"
    CUSTOM = "custom"


#: Images per minute for each preset ("Embed (Images)" limits of Cohere's rate-limit page).
RATE_LIMIT_IMAGES_PER_MINUTE: Final[dict[RateLimit, int]] = {
    RateLimit.TRIAL: 5,
    RateLimit.PRODUCTION: 400,
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a user chooses for a run; the rules re-judge every item when it changes.

    ``input_type`` and ``output_dimension`` may be ``None``, meaning "the model's default".
    """

    model: str = DEFAULT_MODEL
    input_type: str | None = None
    output_dimension: int | None = None
    embedding_types: tuple[str, ...] = (EmbeddingType.FLOAT.value,)
    rate_limit: RateLimit = RateLimit.PRODUCTION
    custom_images_per_minute: int = 60

    @property
    def spec(self) -> ModelSpec | None:
        """The model's spec, or ``None`` for an unknown or retired model."""
        return MODELS.get(self.model)

    @property
    def effective_input_type(self) -> str:
        """The input type that will be sent."""
        if self.input_type is not None:
            return self.input_type
        spec = self.spec
        return spec.default_input_type.value if spec else InputType.SEARCH_DOCUMENT.value

    @property
    def effective_dimension(self) -> int | None:
        """The vector length the run will produce, or ``None`` for an unknown model."""
        if self.output_dimension is not None:
            return self.output_dimension
        spec = self.spec
        return spec.default_dimension if spec else None

    @property
    def images_per_minute(self) -> int:
        """The pacing the run will respect."""
        if self.rate_limit is RateLimit.CUSTOM:
            return max(1, self.custom_images_per_minute)
        return RATE_LIMIT_IMAGES_PER_MINUTE[self.rate_limit]

    def with_model(self, model: str) -> Settings:
        """These settings for another model, dropping choices the new model cannot take."""
        spec = MODELS.get(model)
        input_type = self.input_type
        dimension = self.output_dimension
        if spec is not None:
            if input_type is not None and input_type not in spec.input_types:
                input_type = None
            if dimension is not None and (
                not spec.configurable_dimension or dimension not in spec.dimensions
            ):
                dimension = None
        return replace(self, model=model, input_type=input_type, output_dimension=dimension)

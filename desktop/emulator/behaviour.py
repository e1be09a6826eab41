"""What a model does with what it is given: the input type it applies, the size it sees, the
tokens it bills.

These are the emulator's own readings of the API documentation (facts come from
:mod:`desktop.core.models`); nothing here judges whether a request is allowed.
"""

from __future__ import annotations

import math
from typing import Final

from desktop.core.models import MAX_PIXELS, MIN_PIXELS, InputType, ModelSpec, RequestShape

#: Pixels per billed image token. The only public figure is a third-party estimate that a
#: 512 x 512 image costs about 1,610 tokens; 262,144 / 163 rounds up to 1,609.
PIXELS_PER_IMAGE_TOKEN: Final = 163
#: Bytes of UTF-8 per billed text token: a rough, documented stand-in for a real tokenizer.
BYTES_PER_TEXT_TOKEN: Final = 4


def effective_input_type(spec: ModelSpec, input_type: str) -> str:
    """The input type the model applies: embed-v4.0 treats ``image`` as ``search_document``."""
    if spec.shape is RequestShape.INPUTS and input_type == InputType.IMAGE:
        return InputType.SEARCH_DOCUMENT.value
    return input_type


def seen_size(spec: ModelSpec, width: int, height: int) -> tuple[int, int]:
    """The size the model works on: v4 scales images into [MIN_PIXELS, MAX_PIXELS], aspect kept."""
    if not spec.resizes_large_images:
        return width, height
    pixels = width * height
    if pixels > MAX_PIXELS:
        scale = math.sqrt(MAX_PIXELS / pixels)
        new_w, new_h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        # Float rounding can leave the product a hair above the cap; trim the longer side.
        while new_w * new_h > MAX_PIXELS:
            if new_w >= new_h:
                new_w -= 1
            else:
                new_h -= 1
        return new_w, new_h
    if pixels < MIN_PIXELS:
        scale = math.sqrt(MIN_PIXELS / pixels)
        return math.ceil(width * scale), math.ceil(height * scale)
    return width, height


def image_tokens(width: int, height: int) -> int:
    """Billed image tokens for an image the model sees at *width* x *height*."""
    return math.ceil(width * height / PIXELS_PER_IMAGE_TOKEN)


def text_tokens(text: str) -> int:
    """Billed input tokens for one text (at least one for a non-empty text)."""
    return max(1, math.ceil(len(text.encode("utf-8")) / BYTES_PER_TEXT_TOKEN))

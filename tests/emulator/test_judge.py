"""The judge on its own: edge cases of request bodies, without HTTP."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from desktop.emulator.judge import judge_embed
from desktop.emulator.refusal import Refusal
from tests.emulator.helpers import data_url
from tests.imagegen import encoded, graphic, photo


def _refusal(body: dict[str, Any]) -> Refusal:
    with pytest.raises(Refusal) as caught:
        judge_embed(orjson.dumps(body))
    return caught.value


def _v4(**fields: Any) -> dict[str, Any]:
    return {
        "model": "embed-v4.0",
        "input_type": "search_document",
        "embedding_types": ["float"],
        **fields,
    }


def image_input(url: object) -> dict[str, Any]:
    return {"content": [{"type": "image_url", "image_url": {"url": url}}]}


@pytest.fixture(scope="module")
def png() -> bytes:
    return encoded(photo(70, 70), "PNG")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"inputs": None, "texts": None}, "one of texts, images or inputs must be provided"),
        ({"texts": []}, "texts must contain at least one element"),
        ({"texts": "hello"}, "texts must be a list"),
        ({"texts": ["a", 3]}, "texts[1] must be a string"),
        ({"texts": ["a"], "embedding_types": []}, "embedding_types must be a non-empty list"),
        ({"texts": ["a"], "embedding_types": "float"}, "embedding_types must be a non-empty list"),
        ({"texts": ["a"], "output_dimension": "512"}, "output_dimension must be an integer"),
        ({"texts": ["a"], "output_dimension": True}, "output_dimension must be an integer"),
        ({"texts": ["a"], "priority": True}, "priority must be an integer"),
        ({"texts": ["a"], "max_tokens": 1.5}, "max_tokens must be a positive integer"),
        ({"texts": ["a"], "input_type": None}, "valid input_type must be provided"),
        ({"inputs": [["not", "an", "object"]]}, "inputs[0] must be an object"),
        ({"inputs": [{"content": []}]}, "inputs[0].content must be a non-empty list"),
        ({"inputs": [{"content": ["text"]}]}, "inputs[0].content[0] must be an object"),
        ({"inputs": [{"content": [{"text": "a"}]}]}, "inputs[0].content[0] has no 'type'"),
        ({"inputs": [{"content": [{"type": "video"}]}]}, "unknown type 'video'"),
        ({"inputs": [{"content": [{"type": "text", "text": 5}]}]}, "content[0].text must be a"),
        (
            {
                "inputs": [
                    {"content": [{"type": "text", "text": "a"}]},
                    {"content": [{"type": "text", "text": ""}]},
                ]
            },
            "inputs contains an element that is the empty string at index 1",
        ),
        (
            {"inputs": [{"content": [{"type": "image_url", "image_url": {"uri": "x"}}]}]},
            "image_url must be an object with a 'url' field",
        ),
        ({"inputs": [image_input("data:image/png;base64,")]}, "holds no image data"),
        ({"inputs": [image_input("data:image/png;base64")]}, "has no ','"),
        ({"inputs": [image_input(12)]}, "must be a string holding a data URL"),
        ({"images": ["data:image/png;base64,AAAA"] * 97}, "at most 96 - received 97"),
    ],
)
def test_refusals(fields: dict[str, Any], words: str) -> None:
    refusal = _refusal(_v4(**fields))

    assert refusal.status == 400
    assert words in refusal.message


def test_a_gif_labelled_png_names_both(png: bytes) -> None:
    gif = encoded(graphic(30, 30).convert("P"), "GIF")

    refusal = _refusal(_v4(images=[data_url(png, "image/png"), data_url(gif, "image/png")]))

    assert "images[1] says image/png but its bytes are a GIF image" in refusal.message


def test_a_bmp_is_named_as_such(png: bytes) -> None:
    bmp = encoded(photo(20, 20), "BMP")

    refusal = _refusal(_v4(images=[data_url(bmp, "image/png")]))

    assert "BMP image" in refusal.message


def test_mime_type_case_is_ignored(png: bytes) -> None:
    job = judge_embed(
        orjson.dumps(
            _v4(images=["data:IMAGE/PNG;BASE64," + data_url(png, "image/png").split(",")[1]])
        )
    )

    assert job.images[0].format == "png"


def test_null_optional_fields_are_defaults(png: bytes) -> None:
    body = _v4(
        inputs=[image_input(data_url(png, "image/png"))],
        output_dimension=None,
        truncate=None,
        priority=None,
        max_tokens=None,
        texts=None,
    )

    job = judge_embed(orjson.dumps(body))

    assert (job.dimension, job.input_type, len(job.items)) == (1536, "search_document", 1)


def test_repeated_embedding_types_are_answered_once(png: bytes) -> None:
    job = judge_embed(orjson.dumps(_v4(texts=["a"], embedding_types=["int8", "float", "int8"])))

    assert job.embedding_types == ("int8", "float")


def test_a_corrupt_jpeg_is_refused_not_raised() -> None:
    jpeg = encoded(photo(80, 80), "JPEG")
    corrupt = jpeg[:200] + bytes(len(jpeg) - 200)

    with pytest.raises(Refusal) as caught:
        judge_embed(orjson.dumps(_v4(images=[data_url(corrupt, "image/jpeg")])))

    assert "could not be decoded as JPEG" in caught.value.message

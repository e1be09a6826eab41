"""Every refusal reaches the real SDK as an ``ApiError`` with the right status and message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cohere
import pytest
from cohere.core.api_error import ApiError

from desktop.emulator import Emulator
from tests.emulator.helpers import data_url, image_input, raw_post
from tests.imagegen import encoded, noisy_png_bytes, photo, png_declaring

V4 = "embed-v4.0"
V3 = "embed-english-v3.0"


def _embed_error(client: cohere.ClientV2, **kwargs: Any) -> ApiError:
    kwargs.setdefault("embedding_types", ["float"])
    with pytest.raises(ApiError) as caught:
        client.embed(**kwargs)
    assert isinstance(caught.value.body, dict), caught.value.body
    assert caught.value.body["id"]
    return caught.value


def _v4_inputs(*urls: str) -> dict[str, Any]:
    return {"model": V4, "input_type": "search_document", "inputs": [image_input(u) for u in urls]}


# Each case: a function of the PNG bytes giving embed() arguments, the status, and words the
# message must hold.
CASES: dict[str, tuple[Callable[[bytes], dict[str, Any]], int, tuple[str, ...]]] = {
    "unknown model": (
        lambda png: {"model": "xyz", "input_type": "search_document", "texts": ["a"]},
        404,
        (
            "model 'xyz' not found, make sure the correct model ID was used and that you have "
            "access to the model.",
        ),
    ),
    "retired model": (
        lambda png: {
            "model": "embed-english-v2.0",
            "input_type": "search_document",
            "texts": ["a"],
        },
        404,
        ("embed-english-v2.0", "retired"),
    ),
    "mime image/jpg": (
        lambda png: _v4_inputs(data_url(encoded(photo(50, 50), "JPEG"), "image/jpg")),
        400,
        ("invalid request: ", "inputs[0].content[0].image_url.url", "image/jpg", "image/jpeg"),
    ),
    "mime says jpeg, bytes are png": (
        lambda png: _v4_inputs(data_url(png, "image/png"), data_url(png, "image/jpeg")),
        400,
        ("inputs[1].content[0].image_url.url", "says image/jpeg", "PNG"),
    ),
    "unsupported mime": (
        lambda png: _v4_inputs(data_url(png, "image/bmp")),
        400,
        ("unsupported mime type 'image/bmp'",),
    ),
    "bare base64": (
        lambda png: _v4_inputs(data_url(png, "image/png").split(",", 1)[1]),
        400,
        ("not a data URL", "bare base64"),
    ),
    "web address": (
        lambda png: _v4_inputs("https://example.invalid/cat.png"),
        400,
        ("web address",),
    ),
    "not base64": (
        lambda png: _v4_inputs("data:image/png;base64,@@@not-base64@@@"),
        400,
        ("not valid base64",),
    ),
    "no base64 marker": (
        lambda png: _v4_inputs("data:image/png," + data_url(png, "image/png").split(",", 1)[1]),
        400,
        (";base64",),
    ),
    "not an image": (
        lambda png: _v4_inputs(data_url(b"hello, I am text and not a picture", "image/png")),
        400,
        ("not an image",),
    ),
    "truncated png": (
        lambda png: _v4_inputs(data_url(png[: len(png) // 2], "image/png")),
        400,
        ("inputs[0].content[0].image_url.url", "could not be decoded as PNG"),
    ),
    "type image part": (
        lambda png: {
            "model": V4,
            "input_type": "search_document",
            "inputs": [{"content": [{"type": "image", "image": data_url(png, "image/png")}]}],
        },
        400,
        ("inputs[0].content[0]", "type 'image'", "image_url"),
    ),
    "image_url as a bare string": (
        lambda png: {
            "model": V4,
            "input_type": "search_document",
            "inputs": [
                image_input(data_url(png, "image/png")),
                {"content": [{"type": "image_url", "image_url": data_url(png, "image/png")}]},
            ],
        },
        400,
        ("inputs[1].content[0].image_url", "bare string"),
    ),
    "97 inputs": (
        lambda png: _v4_inputs(*[data_url(png, "image/png")] * 97),
        400,
        ("invalid request: total number of inputs must be at most 96 - received 97",),
    ),
    "97 texts": (
        lambda png: {"model": V4, "input_type": "search_document", "texts": ["a"] * 97},
        400,
        ("invalid request: total number of texts must be at most 96 - received 97",),
    ),
    "empty text": (
        lambda png: {"model": V4, "input_type": "search_document", "texts": ["a", ""]},
        400,
        ("invalid request: texts contains an element that is the empty string at index 1",),
    ),
    "v3 with two images": (
        lambda png: {
            "model": V3,
            "input_type": "image",
            "images": [data_url(png, "image/png")] * 2,
        },
        400,
        ("embed-english-v3.0 takes 1 image per request - received 2",),
    ),
    "v3 images with search_document": (
        lambda png: {
            "model": V3,
            "input_type": "search_document",
            "images": [data_url(png, "image/png")],
        },
        400,
        ("invalid request: images must be used with input_type=image",),
    ),
    "v3 image inside inputs": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "model": V3},
        400,
        ("embed-english-v3.0 takes images only through the images field",),
    ),
    "texts and images together": (
        lambda png: {
            "model": V3,
            "input_type": "image",
            "texts": ["a caption"],
            "images": [data_url(png, "image/png")],
        },
        400,
        ("only one of texts, images or inputs", "texts and images"),
    ),
    "input_type image with inputs on v4": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "input_type": "image"},
        400,
        ("input_type=image can only be used with images",),
    ),
    "unknown input_type": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "input_type": "documents"},
        400,
        ("invalid request: valid input_type must be provided with the provided model",),
    ),
    "output_dimension on v3": (
        lambda png: {
            "model": V3,
            "input_type": "image",
            "images": [data_url(png, "image/png")],
            "output_dimension": 1024,
        },
        400,
        ("output_dimension is only available for embed-v4.0", V3),
    ),
    "output_dimension 300": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "output_dimension": 300},
        400,
        ("output_dimension must be one of 256, 512, 1024, 1536 - received 300",),
    ),
    "unknown embedding type": (
        lambda png: {
            **_v4_inputs(data_url(png, "image/png")),
            "embedding_types": ["float", "float16"],
        },
        400,
        ("embedding_types[1]", "'float16'"),
    ),
    "truncate MIDDLE": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "truncate": "MIDDLE"},
        400,
        ("truncate must be one of NONE, START, END",),
    ),
    "priority 1000": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "priority": 1000},
        400,
        ("priority must be an integer from 0 to 999",),
    ),
    "max_tokens 0": (
        lambda png: {**_v4_inputs(data_url(png, "image/png")), "max_tokens": 0},
        400,
        ("max_tokens must be a positive integer",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refusal(emulator: Emulator, client: cohere.ClientV2, png_bytes: bytes, case: str) -> None:
    make, status, words = CASES[case]

    error = _embed_error(client, **make(png_bytes))

    assert error.status_code == status
    message = error.body["message"]
    for word in words:
        assert word in message
    assert emulator.billed_images == 0
    (record,) = emulator.requests
    assert (record.status, record.outcome, record.message) == (status, "refused", message)


def test_image_over_5_mib_is_refused(client: cohere.ClientV2) -> None:
    big = noisy_png_bytes(1400, 1300)
    assert len(big) > 5 * 1024 * 1024

    error = _embed_error(client, **_v4_inputs(data_url(big, "image/png")))

    assert error.status_code == 400
    assert "at most 5 MiB (5242880 bytes)" in error.body["message"]
    assert str(len(big)) in error.body["message"]


def test_decompression_bomb_is_refused_before_decoding(client: cohere.ClientV2, tmp_path) -> None:
    bomb = png_declaring(tmp_path / "bomb.png", 20_000, 20_000).read_bytes()

    error = _embed_error(client, **_v4_inputs(data_url(bomb, "image/png")))

    assert error.status_code == 400
    assert "declares 20000x20000 pixels" in error.body["message"]


def test_body_over_20_mb_is_refused(emulator: Emulator, client: cohere.ClientV2) -> None:
    image = noisy_png_bytes(1100, 1100)
    urls = [data_url(image, "image/png")] * 6
    assert sum(len(u) for u in urls) > 20_000_000

    error = _embed_error(client, **_v4_inputs(*urls))

    assert error.status_code == 400
    assert "maximum size of a request is 20000000 bytes" in error.body["message"]
    assert emulator.requests[0].outcome == "refused"


def test_bad_json_is_refused(emulator: Emulator) -> None:
    response = raw_post(emulator.base_url, "/v2/embed", b'{"model": "embed-v4.0",')

    assert response.status_code == 400
    assert response.json()["message"].startswith("invalid json syntax: ")
    assert response.json()["id"]


def test_a_body_that_is_not_an_object_is_refused(emulator: Emulator) -> None:
    response = raw_post(emulator.base_url, "/v2/embed", b"[1, 2]")

    assert response.status_code == 400
    assert response.json()["message"] == "invalid request: the request body must be a JSON object"


def test_missing_model_is_refused(emulator: Emulator) -> None:
    body = {"input_type": "search_query", "texts": ["a"], "embedding_types": ["float"]}

    response = raw_post(emulator.base_url, "/v2/embed", body)

    assert response.status_code == 400
    assert response.json()["message"] == "a model parameter is required for this endpoint."


def test_missing_embedding_types_is_refused(emulator: Emulator) -> None:
    body = {"model": V4, "input_type": "search_query", "texts": ["a"]}

    response = raw_post(emulator.base_url, "/v2/embed", body)

    assert response.status_code == 400
    assert response.json()["message"] == "embedding_types parameter is required"


def test_no_key_is_refused(emulator: Emulator) -> None:
    with cohere.ClientV2(api_key="", base_url=emulator.base_url, max_retries=0) as co:
        error = _embed_error(co, model=V4, input_type="search_query", texts=["a"])

    assert error.status_code == 401
    assert error.body["message"] == "no api key supplied"


def test_an_unknown_key_is_refused() -> None:
    with (
        Emulator(keys=["the-good-key"]) as emu,
        cohere.ClientV2(api_key="a-bad-key", base_url=emu.base_url, max_retries=0) as co,
    ):
        error = _embed_error(co, model=V4, input_type="search_query", texts=["a"])

    assert isinstance(error, cohere.UnauthorizedError)
    assert error.body["message"] == "invalid api token"


def test_keys_can_change_while_running(emulator: Emulator, client: cohere.ClientV2) -> None:
    emulator.set_keys(["another-key"])

    error = _embed_error(client, model=V4, input_type="search_query", texts=["a"])

    assert error.status_code == 401


@pytest.mark.parametrize(("switch", "status"), [("payment_required", 402), ("forbidden", 403)])
def test_billing_and_permission_switches(
    emulator: Emulator, client: cohere.ClientV2, switch: str, status: int
) -> None:
    emulator.faults.update(**{switch: True})

    error = _embed_error(client, model=V4, input_type="search_query", texts=["a"])

    assert error.status_code == status
    if status == 402:
        assert "payment method" in error.body["message"]


def test_a_wrong_base_url_reaches_no_route(emulator: Emulator) -> None:
    with cohere.ClientV2(api_key="k", base_url=emulator.base_url + "/v2", max_retries=0) as co:
        error = _embed_error(co, model=V4, input_type="search_query", texts=["a"])

    assert isinstance(error, cohere.NotFoundError)
    assert error.body["message"] == "no route for POST /v2/v2/embed"


def test_retired_and_unknown_refusals_need_no_valid_body_beyond_the_model(
    emulator: Emulator,
) -> None:
    response = raw_post(emulator.base_url, "/v2/embed", {"model": "xyz"})

    assert response.status_code == 404

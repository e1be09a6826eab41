"""The request snippets send the very request they show, and never carry the key.

The Python snippet runs in a fresh interpreter and the curl command in bash, both against the
in-process emulator (which accepts only the test key), and their vectors are compared with a
direct call of the real SDK with the same arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cohere
import pytest

from desktop.core.images import probe_file
from desktop.core.models import MODELS, EmbeddingType, Settings
from desktop.core.payload import data_url, embed_kwargs
from desktop.core.prepare import prepare
from desktop.core.snippets import (
    SHOWN_BASE64_CHARS,
    curl_command,
    full_request,
    python_code,
    readable_request,
)
from desktop.emulator import Emulator
from tests import imagegen as g
from tests.conftest import TEST_KEY

V4 = Settings(
    model="embed-v4.0",
    output_dimension=256,
    embedding_types=(EmbeddingType.FLOAT.value, EmbeddingType.INT8.value),
)
V3 = Settings(model="embed-english-light-v3.0")
#: Long enough for the interpreter to import the SDK on a slow machine; not a speed check.
SUBPROCESS_TIMEOUT = 120


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(keys=[TEST_KEY]) as emu:
        yield emu


@pytest.fixture
def images(tmp_path: Path) -> list[tuple[str, bytes]]:
    """A photo (JPEG), a graphic with transparency (PNG) and an EXIF-rotated JPEG, prepared."""
    paths = [
        g.save(g.photo(160, 120, seed=1), tmp_path / "photo.jpg", quality=88),
        g.save(g.graphic(90, 70, seed=2, alpha=True), tmp_path / "logo.png"),
        g.jpeg_with_orientation(tmp_path / "turned.jpg", 120, 80, 6),
    ]
    out = []
    for path in paths:
        prepared = prepare(probe_file(path), V4)
        out.append((data_url(prepared.mime, prepared.data), prepared.data))
    return out


def _kwargs(settings: Settings, urls: list[str]) -> dict[str, Any]:
    spec = MODELS[settings.model]
    return embed_kwargs(settings, spec, urls)


def _direct(base_url: str, kwargs: dict[str, Any]) -> cohere.EmbedByTypeResponse:
    with cohere.ClientV2(api_key=TEST_KEY, base_url=base_url, max_retries=0, timeout=60) as co:
        response: cohere.EmbedByTypeResponse = co.embed(**kwargs)
        return response


def _env(key: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CO_API_KEY", None)
    if key is not None:
        env["CO_API_KEY"] = key
    return env


def _run_python(code: str, tmp_path: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    """Run *code* as a script, then dump its ``vectors`` to a file beside it."""
    script = tmp_path / "snippet.py"
    out = tmp_path / "vectors.json"
    dump = f"\nimport json\nwith open({str(out)!r}, 'w') as f:\n    json.dump(vectors, f)\n"
    script.write_text(code + dump, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=_env(key),
        cwd=tmp_path,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("settings", [V4, V3], ids=["v4-inputs", "v3-images"])
def test_the_python_snippet_gives_the_same_vectors_as_a_direct_sdk_call(
    settings: Settings,
    images: list[tuple[str, bytes]],
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    urls = [url for url, _ in images]
    kwargs = _kwargs(settings, urls if settings is V4 else urls[:1])
    code = python_code(emulator.base_url, kwargs)

    done = _run_python(code, tmp_path, TEST_KEY)

    assert done.returncode == 0, done.stderr
    expected = _direct(emulator.base_url, kwargs).embeddings.float_
    assert expected is not None
    got = json.loads((tmp_path / "vectors.json").read_text(encoding="utf-8"))
    assert got == expected
    assert len(got) == len(kwargs.get("inputs", kwargs.get("images", [])))
    assert len(got[0]) == (256 if settings is V4 else 384)
    snippet_request = emulator.requests[0]
    assert snippet_request.status == 200
    sent_shas = [hashlib.sha256(data).hexdigest() for _, data in images]
    assert list(snippet_request.image_sha256) == sent_shas[: len(got)]


def test_the_python_snippet_takes_the_key_from_the_environment_only(
    images: list[tuple[str, bytes]], emulator: Emulator, tmp_path: Path
) -> None:
    code = python_code(emulator.base_url, _kwargs(V4, [images[0][0]]))

    wrong = _run_python(code, tmp_path, "not-the-key")
    missing = _run_python(code, tmp_path, None)

    assert wrong.returncode != 0
    assert "401" in wrong.stderr or "invalid api token" in wrong.stderr.lower()
    assert missing.returncode != 0
    assert "CO_API_KEY" in missing.stderr
    assert [r.status for r in emulator.requests] == [401]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("settings", [V4, V3], ids=["v4-inputs", "v3-images"])
def test_the_curl_command_sends_the_same_request(
    settings: Settings, images: list[tuple[str, bytes]], emulator: Emulator
) -> None:
    urls = [url for url, _ in images]
    kwargs = _kwargs(settings, urls if settings is V4 else urls[:1])
    command = curl_command(emulator.base_url, kwargs)

    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env=_env(TEST_KEY),
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    expected = _direct(emulator.base_url, kwargs).embeddings.float_
    assert answer["embeddings"]["float"] == expected
    first = emulator.requests[0]
    assert first.status == 200
    assert list(first.image_sha256) == [
        hashlib.sha256(data).hexdigest() for _, data in images[: len(expected or [])]
    ]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_command_without_the_key_is_refused_not_sent_with_another(
    images: list[tuple[str, bytes]], emulator: Emulator
) -> None:
    command = curl_command(emulator.base_url, _kwargs(V4, [images[0][0]]))

    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env=_env(None),
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )

    assert done.returncode != 0
    assert [r.status for r in emulator.requests] == [401]


def test_no_snippet_contains_the_key_even_when_it_is_in_the_environment(
    images: list[tuple[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CO_API_KEY", TEST_KEY)
    kwargs = _kwargs(V4, [url for url, _ in images])
    base = "https://api.cohere.com"

    texts = {
        "readable": readable_request(kwargs),
        "full": full_request(kwargs),
        "curl": curl_command(base, kwargs),
        "python": python_code(base, kwargs),
    }

    for name, text in texts.items():
        assert TEST_KEY not in text, name
    assert '"Authorization: Bearer $CO_API_KEY"' in texts["curl"]
    assert 'os.environ["CO_API_KEY"]' in texts["python"]


def test_the_readable_request_shortens_every_data_url_and_keeps_the_rest(
    images: list[tuple[str, bytes]],
) -> None:
    urls = [url for url, _ in images]
    kwargs = _kwargs(V4, urls)

    text = readable_request(kwargs)

    shown = json.loads(text)  # still valid JSON: the shortening stays inside the strings
    assert {k: v for k, v in shown.items() if k != "inputs"} == {
        "model": "embed-v4.0",
        "input_type": "search_document",
        "output_dimension": 256,
        "embedding_types": ["float", "int8"],
    }
    assert len(shown["inputs"]) == len(urls)
    for url, entry in zip(urls, shown["inputs"], strict=True):
        (part,) = entry["content"]
        assert part["type"] == "image_url"
        short = part["image_url"]["url"]
        prefix, payload = url.split(",", 1)
        assert short == f"{prefix},{payload[:SHOWN_BASE64_CHARS]}… ({len(url):,} characters in all)"
    assert max(len(line) for line in text.splitlines()) < 160
    assert len(text) < sum(len(u) for u in urls) / 4


def test_the_readable_request_keeps_short_data_urls_and_the_v3_shape() -> None:
    tiny = "data:image/png;base64,iVBORw0KGgo="
    kwargs = _kwargs(V3, [tiny])

    shown = json.loads(readable_request(kwargs))

    assert shown == {
        "images": [tiny],
        "model": "embed-english-light-v3.0",
        "input_type": "image",
        "embedding_types": ["float"],
    }


def test_the_full_request_is_the_compact_body_with_whole_data_urls(
    images: list[tuple[str, bytes]],
) -> None:
    urls = [url for url, _ in images]
    kwargs = _kwargs(V4, urls)

    body = full_request(kwargs)

    assert json.loads(body) == kwargs
    assert "\n" not in body
    assert body.startswith('{"model":"embed-v4.0","input_type":"search_document","inputs":[')
    for url in urls:
        assert url in body

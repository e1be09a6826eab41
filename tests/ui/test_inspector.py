"""The request inspector shows and copies the very request a run sends, never the key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import cohere
import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.core.models import Settings
from desktop.emulator import Emulator
from desktop.ui.controller import SessionController
from desktop.ui.inspector import KEY_NOTE, CopyKind, RequestInspector
from desktop.workers.requests import BuiltRequest
from tests import imagegen as g
from tests.conftest import TEST_KEY
from tests.ui.feeding import add

#: The offscreen platform cannot size or raise windows, and says so; it is harmless.
BASE_URL = "https://api.cohere.com"


@pytest.fixture
def controller(tmp_path: Path) -> SessionController:
    controller = SessionController(Settings(output_dimension=512))
    paths = [
        g.save(g.photo(160, 120, seed=1), tmp_path / "photo.jpg", quality=88),
        g.save(g.graphic(90, 70, seed=2, alpha=True), tmp_path / "logo.png"),
        # Transformed before sending: the inspector must show the transformed bytes.
        g.jpeg_with_orientation(tmp_path / "turned.jpg", 120, 80, 6),
    ]
    add(controller, paths)
    return controller


@pytest.fixture
def inspector(qtbot: QtBot, controller: SessionController) -> Iterator[RequestInspector]:
    dialog = RequestInspector(controller)
    qtbot.addWidget(dialog)
    yield dialog
    dialog.shutdown()


def _built(qtbot: QtBot, inspector: RequestInspector) -> BuiltRequest:
    qtbot.waitUntil(lambda: inspector.built is not None, timeout=10_000)
    assert inspector.built is not None
    return inspector.built


def test_it_shows_the_request_with_data_urls_shortened(
    qtbot: QtBot, inspector: RequestInspector, controller: SessionController
) -> None:
    inspector.inspect(0, BASE_URL)
    built = _built(qtbot, inspector)

    text = inspector.text.toPlainText()
    shown = json.loads(text)
    assert shown["model"] == "embed-v4.0"
    assert shown["input_type"] == "search_document"
    assert shown["output_dimension"] == 512
    assert len(shown["inputs"]) == 3
    assert text.count("characters in all)") == 3
    assert len(text) < len(built.full_json) / 3
    assert "Request 1 of 1" in inspector.heading.text()
    assert f"{BASE_URL}/v2/embed" in inspector.heading.text()
    assert inspector.isVisible()
    assert all(button.isEnabled() for button in inspector.copy_buttons.values())
    assert "$CO_API_KEY" in inspector.key_note.text() == KEY_NOTE


def test_the_copy_buttons_copy_the_key_variable_and_never_the_key(
    qtbot: QtBot, inspector: RequestInspector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CO_API_KEY", TEST_KEY)  # where a careless snippet would find it
    inspector.inspect(0, BASE_URL)
    built = _built(qtbot, inspector)
    clipboard = QGuiApplication.clipboard()

    copied = {}
    for kind, button in inspector.copy_buttons.items():
        button.click()
        copied[kind] = clipboard.text()
        assert copied[kind] == inspector.text_for(kind)
        assert inspector.status.text().startswith(f"Copied the {kind.value}")

    for text in copied.values():
        assert TEST_KEY not in text
    assert '"Authorization: Bearer $CO_API_KEY"' in copied[CopyKind.CURL]
    assert 'os.environ["CO_API_KEY"]' in copied[CopyKind.PYTHON]
    assert json.loads(copied[CopyKind.JSON]) == built.kwargs


def test_the_request_is_the_one_a_run_sends(
    qtbot: QtBot, inspector: RequestInspector, controller: SessionController
) -> None:
    with Emulator(keys=[TEST_KEY]) as emulator:
        base_url = emulator.base_url
        inspector.inspect(0, base_url)
        built = _built(qtbot, inspector)
        with cohere.ClientV2(api_key=TEST_KEY, base_url=base_url, max_retries=0, timeout=30) as co:
            response = co.embed(**built.kwargs)
        records = emulator.requests

    session = controller.session
    expected = [sent.sha256 for n in session.plan()[0].items if (sent := session.sent_of(n))]
    assert list(records[0].image_sha256) == expected
    assert response.embeddings.float_ is not None
    assert len(response.embeddings.float_[0]) == 512
    assert built.body_bytes == len(built.full_json.encode("utf-8"))
    assert built.body_bytes == session.plan()[0].body_bytes
    assert f"{base_url}/v2/embed" in built.curl
    assert f"base_url={json.dumps(base_url)}" in built.python
    turned = hashlib.sha256((Path(session.items[2].path)).read_bytes()).hexdigest()
    assert turned not in expected  # the EXIF-rotated photo travels turned, as new bytes


def test_a_request_no_longer_in_the_plan_says_so(qtbot: QtBot, inspector: RequestInspector) -> None:
    inspector.inspect(5, BASE_URL)

    assert "no longer in the plan" in inspector.status.text()
    assert inspector.built is None
    assert not inspector.copy_buttons[CopyKind.CURL].isEnabled()
    assert inspector.text_for(CopyKind.CURL) == ""


def test_a_file_changed_since_it_was_checked_is_reported_not_sent(
    qtbot: QtBot, inspector: RequestInspector, controller: SessionController
) -> None:
    path = Path(controller.session.items[0].path)
    g.save(g.photo(160, 120, seed=99), path, "JPEG", quality=88)

    inspector.inspect(0, BASE_URL)

    qtbot.waitUntil(lambda: "cannot be built" in inspector.status.text(), timeout=10_000)
    assert "photo.jpg: The file changed since it was read" in inspector.status.text()
    assert inspector.built is None


def test_inspecting_again_replaces_the_request_and_closing_drops_the_work(
    qtbot: QtBot, inspector: RequestInspector, controller: SessionController
) -> None:
    inspector.inspect(0, BASE_URL)
    inspector.inspect(0, "http://127.0.0.1:9")
    built = _built(qtbot, inspector)

    assert built.job.base_url == "http://127.0.0.1:9"
    assert "http://127.0.0.1:9/v2/embed" in built.curl

    inspector.inspect(0, BASE_URL)
    inspector.close()
    assert not inspector.isVisible()

"""The plan panel follows the session's plan: requests, fullness, findings, what blocks a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.core.models import MAX_BODY_BYTES, RateLimit, Settings
from desktop.core.rules import duration_words, explanation, run_seconds
from desktop.ui.controller import SessionController
from desktop.ui.plan_model import BODY_FRACTION_ROLE, COLUMN_BODY, COLUMN_IMAGES
from desktop.ui.plan_panel import NOTHING_TO_SEND, PlanPanel
from tests import imagegen as g
from tests.ui.feeding import add, change_settings

#: The offscreen platform says this once per shown window; it is harmless.


@pytest.fixture(scope="module")
def two_hundred(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """200 distinct small photos (made once for the module: they are only read)."""
    return g.photo_folder(tmp_path_factory.mktemp("many"), 200, 48, 36)


@pytest.fixture
def controller() -> Iterator[SessionController]:
    controller = SessionController(Settings())
    yield controller
    controller.shutdown()


@pytest.fixture
def panel(qtbot: QtBot, controller: SessionController) -> PlanPanel:
    widget = PlanPanel(controller)
    qtbot.addWidget(widget)
    return widget


def _column(panel: PlanPanel, column: int) -> list[str]:
    model = panel.model
    return [str(model.index(row, column).data()) for row in range(model.rowCount())]


def _codes(panel: PlanPanel) -> list[str]:
    return [label.text().split("(", 1)[1].split(")", 1)[0] for label in panel.findings.labels]


def test_200_small_images_on_v4_make_3_requests(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, two_hundred: list[Path]
) -> None:
    assert panel.blocking_error() == NOTHING_TO_SEND

    with qtbot.waitSignal(panel.refreshed):
        add(controller, two_hundred)

    assert panel.model.rowCount() == 3

    images = _column(panel, COLUMN_IMAGES)
    counts = [int(text.split(" of ")[0]) for text in images]
    assert sum(counts) == 200
    assert sorted(counts) == [66, 67, 67], "the images are spread evenly over the requests"
    assert all(text.endswith(" of 96 images") for text in images)
    assert panel.summary.text().startswith("200 images in 3 requests.")
    assert "batch-split" in _codes(panel)
    assert panel.blocking_error() is None
    assert not panel.pending.isVisible()
    assert panel.inspect_button.isEnabled()
    for row, request in enumerate(panel.requests):
        fraction = panel.model.index(row, COLUMN_BODY).data(BODY_FRACTION_ROLE)
        assert fraction == request.body_bytes / MAX_BODY_BYTES
        assert 0 < fraction < 1


def test_a_v3_model_makes_one_request_per_image(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, two_hundred: list[Path]
) -> None:
    add(controller, two_hundred[:30])
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)

    v3 = Settings(model="embed-english-v3.0", rate_limit=RateLimit.TRIAL)
    change_settings(controller, v3)
    eta = duration_words(run_seconds(30, v3))

    qtbot.waitUntil(lambda: panel.model.rowCount() == 30)
    assert set(_column(panel, COLUMN_IMAGES)) == {"1 of 1 image"}
    assert panel.summary.text().startswith("30 images in 30 requests.")
    assert f"At 5 images per minute this takes {eta}." in panel.summary.text()
    codes = _codes(panel)
    assert "single-image-model" in codes
    assert "rate-limited-eta" in codes
    assert "batch-split" not in codes
    words = next(t.text() for t in panel.findings.labels if "rate-limited-eta" in t.text())
    assert f"takes {eta}" in words
    assert panel.blocking_error() is None


def test_images_still_being_prepared_are_counted_and_hold_the_run(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, tmp_path: Path
) -> None:
    ready = g.photo_folder(tmp_path / "ready", 2)
    large = [
        g.save(g.photo(2000, 1600, seed=n), tmp_path / f"large{n}.jpg", quality=80)
        for n in range(3)
    ]
    add(controller, ready)
    add(controller, large, prepare_them=False)

    qtbot.waitUntil(lambda: "3 images still being prepared" in panel.pending.text())
    panel.show()
    assert panel.pending.isVisible()
    assert panel.pending.text() == "3 images still being prepared — the plan may change."
    assert panel.summary.text().startswith("2 images in 1 request.")
    blocked = panel.blocking_error()
    assert blocked is not None
    assert "3 images still being read or prepared" in blocked


def test_a_model_that_cannot_embed_images_blocks_the_run_with_its_reason(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, two_hundred: list[Path]
) -> None:
    add(controller, two_hundred[:3])

    change_settings(controller, Settings(model="embed-english-v2.0"))

    qtbot.waitUntil(lambda: "model-no-images" in _codes(panel))
    assert panel.model.rowCount() == 0
    blocked = panel.blocking_error()
    assert blocked is not None
    assert "retired" in blocked
    assert "model-no-images" in _codes(panel)
    assert not panel.inspect_button.isEnabled()


def test_an_empty_session_has_nothing_to_send(panel: PlanPanel) -> None:
    assert panel.model.rowCount() == 0
    assert panel.blocking_error() == NOTHING_TO_SEND
    assert panel.summary.text() == "Nothing to send yet."
    assert not panel.inspect_button.isEnabled()


def test_unreadable_images_are_counted_but_do_not_block(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    add(controller, [*g.photo_folder(tmp_path / "ok", 2), broken])

    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    assert "1 image will not be sent" in panel.summary.text()
    assert panel.blocking_error() is None


def test_inspect_asks_for_the_selected_request(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, two_hundred: list[Path]
) -> None:
    add(controller, two_hundred)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3)

    with qtbot.waitSignal(panel.inspect_requested) as first:
        panel.inspect_button.click()
    panel.table.selectRow(2)
    with qtbot.waitSignal(panel.inspect_requested) as third:
        panel.inspect_button.click()

    assert first.args == [0]
    assert third.args == [2]


def test_the_help_link_of_a_request_finding_explains_it(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, two_hundred: list[Path]
) -> None:
    add(controller, two_hundred)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3)

    label = next(label for label in panel.findings.labels if "batch-split" in label.text())
    label.linkActivated.emit("rule:batch-split")

    dialog = panel.help_dialog
    assert dialog is not None
    assert dialog.text == explanation("batch-split")
    dialog.close()


def test_the_plan_model_passes_the_model_tester(
    qtbot: QtBot,
    qtmodeltester,  # untyped: pytest-qt's ModelTester.check has no annotations
    panel: PlanPanel,
    controller: SessionController,
    two_hundred: list[Path],
) -> None:
    add(controller, two_hundred)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3)

    qtmodeltester.check(panel.model)

    model = panel.model
    assert model.headerData(COLUMN_BODY, Qt.Orientation.Horizontal) == (
        "Body size (the limit is 20 MB)"
    )
    assert "bytes" in str(model.index(0, COLUMN_BODY).data(Qt.ItemDataRole.ToolTipRole))


def test_a_duplicate_of_a_shrunk_image_is_not_left_waiting(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, tmp_path: Path
) -> None:
    large = g.save(g.photo(2000, 1600, seed=3), tmp_path / "large.jpg", quality=80)
    copy = tmp_path / "copy of large.jpg"
    copy.write_bytes(large.read_bytes())

    add(controller, [large, copy])

    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    assert not panel.pending.isVisibleTo(panel)
    assert panel.blocking_error() is None
    assert panel.summary.text().startswith("1 image in 1 request.")


def test_it_follows_the_real_controller_reading_and_preparing_a_folder(
    qtbot: QtBot, panel: PlanPanel, controller: SessionController, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    g.photo_folder(folder, 120, 48, 36)
    g.save(g.photo(2000, 1600, seed=3), folder / "large.jpg", quality=80)

    controller.add_paths([str(folder)])

    qtbot.waitUntil(
        lambda: not controller.busy and panel.summary.text().startswith("121 images in 2 requests"),
        timeout=15_000,
    )
    assert panel.blocking_error() is None
    assert not panel.pending.isVisibleTo(panel)

    controller.set_settings(Settings(model="embed-english-light-v3.0"))

    qtbot.waitUntil(lambda: panel.model.rowCount() == 121, timeout=15_000)
    assert "single-image-model" in _codes(panel)

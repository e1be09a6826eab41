"""The preview: the original and what will be sent, side by side at one scale, in plain words."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.core.images import probe_file
from desktop.core.models import Settings
from desktop.core.rules import explanation
from desktop.ui.controller import SessionController
from desktop.ui.preview import EMPTY_TEXT, UNCHANGED_TEXT, PreviewPanel
from desktop.workers.previewing import PREVIEW_BOX, PreviewImages, PreviewJob, make_preview
from tests import imagegen as g
from tests.ui.feeding import add, change_settings

V3 = Settings(model="embed-english-v3.0")
#: The offscreen platform says this once per shown window; it is harmless.


@pytest.fixture
def controller() -> Iterator[SessionController]:
    controller = SessionController(Settings())
    yield controller
    controller.shutdown()


@pytest.fixture
def panel(qtbot: QtBot, controller: SessionController) -> Iterator[PreviewPanel]:
    widget = PreviewPanel(controller)
    qtbot.addWidget(widget)
    widget.resize(1100, 900)
    widget.show()
    yield widget
    widget.shutdown()


@pytest.fixture(scope="module")
def large_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2400 x 1800 JPEG photo: 4.3 million pixels, more than embed-v4.0 looks at.

    Made once for the module (it is only read).
    """
    folder = tmp_path_factory.mktemp("large")
    return g.save(g.photo(2400, 1800, seed=7), folder / "large.jpg", quality=85)


def _wait_for_both_images(qtbot: QtBot, panel: PreviewPanel) -> tuple[QSize, QSize]:
    images = panel.view.images
    qtbot.waitUntil(
        lambda: not images.image_size(0).isEmpty() and not images.image_size(1).isEmpty(),
        timeout=10_000,
    )
    return images.image_size(0), images.image_size(1)


def test_a_large_photo_on_v4_is_sent_smaller_and_shown_smaller_at_the_same_scale(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, large_photo: Path
) -> None:
    add(controller, [large_photo])
    sent = controller.session.sent_of(0)
    assert sent is not None
    assert (sent.width, sent.height) < (2400, 1800)

    panel.show_items([0])
    original, shown_sent = _wait_for_both_images(qtbot, panel)

    assert (original.width(), original.height()) == (PREVIEW_BOX, 360)
    scale = PREVIEW_BOX / 2400
    assert abs(shown_sent.width() - sent.width * scale) <= 1
    assert abs(shown_sent.height() - sent.height * scale) <= 1
    left, right = panel.view.images.displayed_sizes()
    assert right.width() < left.width()
    assert right.width() / left.width() == pytest.approx(sent.width / 2400, abs=0.01)
    changes = panel.view.changes.text()
    assert f"shrunk from 2400 x 1800 to {sent.width} x {sent.height}" in changes
    assert UNCHANGED_TEXT not in changes
    assert "(downsampled)" in " ".join(label.text() for label in panel.view.findings.labels)


def test_the_same_photo_on_v3_is_sent_as_it_is_and_shown_at_the_same_size(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, large_photo: Path
) -> None:
    change_settings(controller, V3)
    add(controller, [large_photo])

    panel.show_items([0])
    original, shown_sent = _wait_for_both_images(qtbot, panel)

    assert original == shown_sent == QSize(PREVIEW_BOX, 360)
    left, right = panel.view.images.displayed_sizes()
    assert left == right
    assert UNCHANGED_TEXT in panel.view.changes.text()


def test_switching_the_model_redraws_what_will_be_sent(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, large_photo: Path
) -> None:
    add(controller, [large_photo])
    panel.show_items([0])
    _original, smaller = _wait_for_both_images(qtbot, panel)

    change_settings(controller, V3)

    qtbot.waitUntil(lambda: panel.view.images.image_size(1) == QSize(PREVIEW_BOX, 360))
    assert smaller.width() < PREVIEW_BOX
    assert UNCHANGED_TEXT in panel.view.changes.text()


def test_a_compliant_png_says_it_is_sent_unchanged_with_its_facts(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    path = g.save(g.graphic(300, 200, seed=3), tmp_path / "chart.png")
    add(controller, [path])

    panel.show_items([0])
    _wait_for_both_images(qtbot, panel)
    qtbot.waitUntil(lambda: panel.view.data_url.text().startswith("data:image/png;base64,"))

    view = panel.view
    assert UNCHANGED_TEXT in view.changes.text()
    data = path.read_bytes()
    assert view.sha256.text() == hashlib.sha256(data).hexdigest()
    assert view.data_url.text().startswith("data:image/png;base64,iVBORw0KGgo")
    assert view.data_url.text().endswith("…")
    facts = view.sent_facts.text()
    assert "image/png" in facts
    assert "300 x 200 pixels" in facts
    assert f"{len(data):,} bytes" in facts
    sent = controller.session.sent_of(0)
    assert sent is not None
    assert f"{sent.data_url_chars:,} characters in the data URL" in facts
    assert "PNG" in view.original_facts.text()
    assert view.state.text() == "Ready to send."
    assert view.findings.labels == []  # nothing to report for a compliant image


def test_the_sha256_copy_button_copies_the_fingerprint(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    path = g.save(g.graphic(120, 90, seed=4), tmp_path / "small.png")
    add(controller, [path])
    panel.show_items([0])

    panel.view.copy_sha.click()

    assert QGuiApplication.clipboard().text() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_findings_are_listed_with_their_codes_and_the_help_link_explains_them(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    # A PNG named .jpg, and so small that the API enlarges it: two warnings.
    path = g.save(g.graphic(40, 30, seed=5), tmp_path / "tiny.jpg", fmt="PNG")
    add(controller, [path])

    panel.show_items([0])

    labels = panel.view.findings.labels
    texts = [label.text() for label in labels]
    assert any("(extension-mismatch)" in t and "content is PNG" in t for t in texts)
    assert any("(upsampled-by-server)" in t for t in texts)
    assert all("What does this mean?" in t for t in texts)
    assert "warning" in panel.view.state.text()

    target = next(label for label in labels if "(extension-mismatch)" in label.text())
    target.linkActivated.emit("rule:extension-mismatch")

    dialog = panel.help_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.code == "extension-mismatch"
    assert dialog.text == explanation("extension-mismatch")
    assert dialog.body.text() == explanation("extension-mismatch")
    dialog.close()
    _wait_for_both_images(qtbot, panel)


def test_an_exif_rotated_photo_is_shown_upright_on_both_sides(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    # Stored 200 x 120 with orientation 6: upright it is 120 wide and 200 tall.
    path = g.jpeg_with_orientation(tmp_path / "turned.jpg", 200, 120, 6)
    add(controller, [path])

    panel.show_items([0])
    original, sent = _wait_for_both_images(qtbot, panel)

    assert original == sent == QSize(120, 200)
    assert "turned upright (EXIF orientation 6)" in panel.view.changes.text()
    assert "EXIF orientation 6" in panel.view.original_facts.text()


def test_an_unreadable_file_says_so_in_plain_words_and_decodes_nothing(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    add(controller, [path])

    panel.show_items([0])

    view = panel.view
    assert view.state.text().startswith("Will not be sent")
    assert "Nothing is sent for it." in view.sent_facts.text()
    assert any("(unreadable)" in label.text() for label in view.findings.labels)
    assert view.images.image_size(0).isEmpty()
    assert not view.sha256.isVisible()


def test_the_empty_and_the_multiple_selection_states(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    good = g.save(g.graphic(100, 80, seed=1), tmp_path / "a.png")
    tiny = g.save(g.graphic(20, 20, seed=2), tmp_path / "b.png")
    broken = tmp_path / "c.png"
    broken.write_bytes(b"not an image at all")
    add(controller, [good, tiny, broken])

    assert panel.pages.currentWidget() is panel.empty
    assert panel.empty.text() == EMPTY_TEXT

    panel.show_items([0, 1, 2])

    assert panel.pages.currentWidget() is panel.summary
    text = panel.summary.text()
    assert "3 images selected" in text
    assert "1 ready to send" in text
    assert "1 will be sent, with a warning" in text
    assert "1 will not be sent" in text

    panel.show_items([])
    assert panel.pages.currentWidget() is panel.empty


def test_a_newer_selection_wins_over_older_preview_work(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    wide = g.save(g.photo(1600, 400, seed=1), tmp_path / "wide.jpg", quality=85)
    tall = g.save(g.photo(300, 900, seed=2), tmp_path / "tall.jpg", quality=85)
    add(controller, [wide, tall])

    panel.show_items([0])
    panel.show_items([1])
    original, sent = _wait_for_both_images(qtbot, panel)
    qtbot.waitUntil(lambda: not panel.busy)

    assert original == sent == QSize(160, PREVIEW_BOX)
    assert panel.view.name.text() == "tall.jpg"


def test_the_run_outcome_is_shown_after_a_run(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    path = g.save(g.graphic(100, 80, seed=1), tmp_path / "a.png")
    add(controller, [path])
    panel.show_items([0])

    controller.session.set_failed(0, "invalid request: the <image> could not be decoded")
    controller.items_changed.emit([0])
    assert "the <image> could not be decoded" in panel.view.state.text()
    assert panel.view.state.textFormat() is Qt.TextFormat.PlainText  # server words, not markup
    assert panel.view.state.text().startswith("The last run could not embed this image")

    controller.session.set_embedded([0])
    controller.items_changed.emit([0])
    assert panel.view.state.text().startswith("Embedded")
    _wait_for_both_images(qtbot, panel)


def test_removing_items_empties_the_preview(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, tmp_path: Path
) -> None:
    add(controller, [g.save(g.graphic(100, 80, seed=1), tmp_path / "a.png")])
    panel.show_items([0])

    controller.session.clear()
    controller.items_removed.emit()

    assert panel.pages.currentWidget() is panel.empty


def test_it_follows_the_real_controller_through_a_model_switch(
    qtbot: QtBot, panel: PreviewPanel, controller: SessionController, large_photo: Path
) -> None:
    controller.add_paths([str(large_photo)])
    qtbot.waitUntil(lambda: not controller.busy and controller.session.sent_of(0) is not None)

    panel.show_items([0])
    _original, smaller = _wait_for_both_images(qtbot, panel)
    assert smaller.width() < PREVIEW_BOX
    assert panel.view.state.text() == "Ready to send."

    controller.set_settings(V3)

    qtbot.waitUntil(lambda: panel.view.images.image_size(1) == QSize(PREVIEW_BOX, 360))
    qtbot.waitUntil(lambda: UNCHANGED_TEXT in panel.view.changes.text())


AWKWARD = {
    "animated GIF": lambda d: g.animated_gif(d / "anim.gif", 64, 48, 3),
    "animated PNG": lambda d: g.animated_png(d / "anim.png"),
    "animated WebP": lambda d: g.animated_webp(d / "anim.webp"),
    "16-bit grey PNG": lambda d: g.png16(d / "deep.png", 80, 60),
    "48-bit PNG": lambda d: g.png48(d / "deeper.png", 80, 60),
    "CMYK JPEG": lambda d: g.cmyk_jpeg(d / "print.jpg", 80, 60),
    "palette with transparency": lambda d: g.palette_png_with_transparency(d / "p.png", 80, 60),
    "grey with alpha": lambda d: g.grey_alpha_png(d / "la.png", 80, 60),
    "BMP": lambda d: g.save(g.photo(80, 60), d / "old.bmp"),
    "TIFF": lambda d: g.save(g.photo(80, 60), d / "scan.tiff"),
    "MPO": lambda d: g.mpo(d / "stereo.jpg", 80, 60),
    "mirrored by EXIF": lambda d: g.jpeg_with_orientation(d / "mirror.jpg", 80, 60, 2),
}


@pytest.mark.parametrize("make", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_images_are_previewed_on_both_sides(make, tmp_path: Path) -> None:
    path = make(tmp_path)
    probe = probe_file(path)
    job = PreviewJob(1, probe, Settings(), send=True)
    reports: list[object] = []

    found = make_preview(job, reports.append, threading.Event())

    assert found.original_error == found.sent_error == ""
    assert found.original is not None
    assert found.sent is not None
    assert found.sent_info is not None
    upright = (probe.height, probe.width) if probe.orientation in (5, 6, 7, 8) else None
    expected = upright or (probe.width, probe.height)
    assert (found.original.width(), found.original.height()) == expected
    assert (found.sent.width(), found.sent.height()) == (
        found.sent_info.width,
        found.sent_info.height,
    )
    assert found.data_url_head.startswith(f"data:{found.sent_info.mime};base64,")
    assert [type(r) for r in reports] == [PreviewImages]


def test_a_file_cut_short_after_it_was_read_is_reported_in_words(tmp_path: Path) -> None:
    path = g.save(g.photo(200, 150), tmp_path / "photo.jpg", quality=90)
    probe = probe_file(path)
    path.write_bytes(path.read_bytes()[:500])

    reports: list[object] = []

    found = make_preview(
        PreviewJob(1, probe, Settings(), send=True), reports.append, threading.Event()
    )

    assert found.original is None
    assert found.original_error == "The file changed since it was read; add it again to see it."
    assert found.sent is None
    assert "changed since it was read" in found.sent_error

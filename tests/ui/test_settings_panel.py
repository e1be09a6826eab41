"""The settings panel: one signal per change, and never a combination the API refuses."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.core.models import MODELS, EmbeddingType, InputType, RateLimit, Settings
from desktop.core.rules import RunShape, Severity, request_findings
from desktop.ui.controller import SessionController
from desktop.ui.settings_panel import SettingsPanel

V4 = "embed-v4.0"


@pytest.fixture
def panel(qtbot: QtBot) -> SettingsPanel:
    widget = SettingsPanel(Settings())
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def emitted(panel: SettingsPanel) -> list[Settings]:
    received: list[Settings] = []
    panel.settings_changed.connect(received.append)
    return received


def _choose_model(panel: SettingsPanel, model: str) -> None:
    panel.model.setCurrentIndex(panel.model.findData(model))


def _errors(settings: Settings) -> list[str]:
    run = RunShape(images=1, requests=1, largest_body=1000)
    return [f.code for f in request_findings(settings, run) if f.severity is Severity.ERROR]


def test_it_shows_the_defaults(panel: SettingsPanel) -> None:
    assert panel.model.currentData() == V4
    assert panel.model.currentText() == MODELS[V4].label
    assert panel.input_type.currentData() == InputType.SEARCH_DOCUMENT.value
    assert "Images you will search through" in panel.input_type.currentText()
    assert panel.dimension.currentData() == 1536
    assert panel.dimension.isEnabled()
    assert [k for k, box in panel.type_boxes.items() if box.isChecked()] == [EmbeddingType.FLOAT]
    assert panel.pace_buttons[RateLimit.PRODUCTION].isChecked()
    assert not panel.custom_pace.isEnabled()


def test_switching_to_v3_fixes_the_size_and_the_input_type_and_back_restores_v4(
    panel: SettingsPanel, emitted: list[Settings]
) -> None:
    _choose_model(panel, "embed-english-v3.0")

    assert len(emitted) == 1
    v3 = emitted[0]
    assert v3.model == "embed-english-v3.0"
    assert v3.effective_input_type == InputType.IMAGE.value
    assert _errors(v3) == []
    assert not panel.dimension.isEnabled()
    assert panel.dimension.currentText() == "fixed at 1024 numbers"
    assert [panel.input_type.itemData(n) for n in range(panel.input_type.count())] == ["image"]
    assert not panel.input_type.isEnabled()

    _choose_model(panel, "embed-english-light-v3.0")
    assert panel.dimension.currentText() == "fixed at 384 numbers"

    _choose_model(panel, V4)

    assert len(emitted) == 3
    back = emitted[-1]
    assert back.effective_input_type == InputType.SEARCH_DOCUMENT.value
    assert panel.input_type.currentData() == InputType.SEARCH_DOCUMENT.value
    assert panel.dimension.isEnabled()
    assert panel.dimension.currentData() == 1536
    assert [panel.input_type.itemData(n) for n in range(panel.input_type.count())] == [
        t.value for t in MODELS[V4].input_types
    ]


def test_choices_v3_cannot_take_are_dropped_on_the_way_and_not_restored(
    panel: SettingsPanel, emitted: list[Settings]
) -> None:
    panel.input_type.setCurrentIndex(panel.input_type.findData("search_query"))
    panel.dimension.setCurrentIndex(panel.dimension.findData(512))
    assert emitted[-1].input_type == "search_query"
    assert emitted[-1].output_dimension == 512

    _choose_model(panel, "embed-multilingual-v3.0")
    on_v3 = emitted[-1]
    assert on_v3.input_type is None
    assert on_v3.output_dimension is None
    assert _errors(on_v3) == []

    _choose_model(panel, V4)
    assert emitted[-1].effective_input_type == "search_document"
    assert emitted[-1].effective_dimension == 1536
    assert len(emitted) == 4


def test_every_offered_combination_is_one_the_api_accepts(panel: SettingsPanel) -> None:
    seen = 0
    for m in range(panel.model.count()):
        panel.model.setCurrentIndex(m)
        for t in range(panel.input_type.count()):
            panel.input_type.setCurrentIndex(t)
            for d in range(panel.dimension.count()):
                panel.dimension.setCurrentIndex(d)
                settings = panel.settings
                assert _errors(settings) == [], settings
                spec = MODELS[settings.model]
                assert settings.effective_input_type in spec.input_types
                seen += 1
    # v4: 4 input types x 4 sizes; four v3 models: 1 x 1 each.
    assert seen == 16 + 4


def test_number_formats_emit_once_each_and_the_last_one_cannot_be_unchecked(
    panel: SettingsPanel, emitted: list[Settings]
) -> None:
    boxes = panel.type_boxes

    boxes[EmbeddingType.FLOAT].click()  # the only one checked: it stays
    assert emitted == []
    assert boxes[EmbeddingType.FLOAT].isChecked()

    boxes[EmbeddingType.INT8].click()
    assert [s.embedding_types for s in emitted] == [("float", "int8")]

    boxes[EmbeddingType.FLOAT].click()
    assert [s.embedding_types for s in emitted] == [("float", "int8"), ("int8",)]
    boxes[EmbeddingType.INT8].click()
    assert len(emitted) == 2
    assert boxes[EmbeddingType.INT8].isChecked()
    assert not boxes[EmbeddingType.FLOAT].isChecked()


def test_the_pace_emits_once_per_change_and_custom_takes_a_number(
    panel: SettingsPanel, emitted: list[Settings]
) -> None:
    panel.pace_buttons[RateLimit.TRIAL].click()
    assert [s.rate_limit for s in emitted] == [RateLimit.TRIAL]
    assert emitted[-1].images_per_minute == 5

    panel.pace_buttons[RateLimit.CUSTOM].click()
    assert panel.custom_pace.isEnabled()
    panel.custom_pace.setValue(42)

    assert [s.rate_limit for s in emitted] == [RateLimit.TRIAL, RateLimit.CUSTOM, RateLimit.CUSTOM]
    assert emitted[-1].images_per_minute == 42

    panel.pace_buttons[RateLimit.PRODUCTION].click()
    assert emitted[-1].images_per_minute == 400
    assert not panel.custom_pace.isEnabled()
    assert len(emitted) == 4


def test_set_settings_shows_them_without_emitting(qtbot: QtBot, panel: SettingsPanel) -> None:
    chosen = Settings(
        model=V4,
        input_type="clustering",
        output_dimension=256,
        embedding_types=("int8", "ubinary"),
        rate_limit=RateLimit.CUSTOM,
        custom_images_per_minute=77,
    )

    with qtbot.assertNotEmitted(panel.settings_changed):
        panel.set_settings(chosen)
        panel.set_settings(Settings(model="embed-english-light-v3.0"))
        panel.set_settings(chosen)

    assert panel.settings == chosen
    assert panel.input_type.currentData() == "clustering"
    assert panel.dimension.currentData() == 256
    checked = [k.value for k, box in panel.type_boxes.items() if box.isChecked()]
    assert checked == ["int8", "ubinary"]
    assert panel.pace_buttons[RateLimit.CUSTOM].isChecked()
    assert panel.custom_pace.value() == 77
    assert panel.custom_pace.isEnabled()


def test_a_retired_model_is_shown_but_never_offered_again(
    panel: SettingsPanel, emitted: list[Settings]
) -> None:
    panel.set_settings(Settings(model="embed-english-v2.0"))
    assert panel.model.currentText() == "embed-english-v2.0 (cannot embed images)"

    _choose_model(panel, V4)

    assert emitted[-1].model == V4
    assert panel.model.findData("embed-english-v2.0") == -1
    assert panel.model.count() == len(MODELS)


def test_every_input_type_has_a_tooltip_saying_what_it_is_for(panel: SettingsPanel) -> None:
    for n in range(panel.input_type.count()):
        tip = panel.input_type.itemData(n, Qt.ItemDataRole.ToolTipRole)
        assert isinstance(tip, str)
        assert panel.input_type.itemData(n) in tip
    assert "images people will search through" in panel.input_type.toolTip()


def test_wired_to_the_controller_a_change_goes_round_once(
    qtbot: QtBot, panel: SettingsPanel
) -> None:
    controller = SessionController(Settings())
    panel.settings_changed.connect(controller.set_settings)
    controller.settings_changed.connect(panel.set_settings)
    try:
        with qtbot.waitSignal(controller.settings_changed) as changed:
            _choose_model(panel, "embed-english-v3.0")
        assert controller.session.settings == changed.args[0] == panel.settings
        assert controller.session.settings.model == "embed-english-v3.0"
    finally:
        controller.shutdown()

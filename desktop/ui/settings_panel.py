"""The run's settings: model, input type, vector size, number formats and pace.

Only valid combinations are ever offered: each model shows only the input types and vector
sizes it accepts, and switching model keeps what still fits and falls back to the new model's
defaults for the rest (:meth:`Settings.with_model`). Every change a person makes emits one new
:class:`Settings`; :meth:`SettingsPanel.set_settings` shows settings without emitting.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models import (
    MODELS,
    RATE_LIMIT_IMAGES_PER_MINUTE,
    EmbeddingType,
    InputType,
    RateLimit,
    Settings,
)

#: What each input type is for, in words: (menu text, tooltip).
INPUT_TYPE_WORDS: Final[dict[InputType, tuple[str, str]]] = {
    InputType.SEARCH_DOCUMENT: (
        "Images you will search through",
        "search_document: for the collection itself, the images people will search "
        "through (a photo library, a product catalogue).",
    ),
    InputType.SEARCH_QUERY: (
        "Images you search with",
        "search_query: for images used as the question, to find similar images in a "
        "collection embedded as search_document.",
    ),
    InputType.CLASSIFICATION: (
        "Images to sort into categories",
        "classification: for vectors that will feed a classifier sorting images into "
        "categories you chose.",
    ),
    InputType.CLUSTERING: (
        "Images to group by likeness",
        "clustering: for vectors that will be grouped by how alike the images are, "
        "without categories chosen in advance.",
    ),
    InputType.IMAGE: (
        "Image",
        "image: the only input type the v3 models take with images (one image per request).",
    ),
}

#: What each number format is, in words: (check box text, tooltip).
EMBEDDING_TYPE_WORDS: Final[dict[EmbeddingType, tuple[str, str]]] = {
    EmbeddingType.FLOAT: (
        "Decimal numbers",
        "float: the most precise form, 4 bytes per number. The usual choice.",
    ),
    EmbeddingType.INT8: (
        "Whole numbers, -128 to 127",
        "int8: one byte per number, 4 times smaller than decimals, nearly as good for search.",
    ),
    EmbeddingType.UINT8: (
        "Whole numbers, 0 to 255",
        "uint8: one byte per number, 4 times smaller than decimals.",
    ),
    EmbeddingType.BINARY: (
        "Bits, signed",
        "binary: one bit per number packed 8 to a value (-128 to 127), 32 times smaller; "
        "for very fast, rougher search.",
    ),
    EmbeddingType.UBINARY: (
        "Bits, unsigned",
        "ubinary: one bit per number packed 8 to a value (0 to 255), 32 times smaller.",
    ),
    EmbeddingType.BASE64: (
        "Decimals as base64 text",
        "base64: the decimal numbers' bytes written as base64 text, for systems that store "
        "vectors as text.",
    ),
}

DIMENSION_TOOLTIP: Final = (
    "How many numbers each vector has (output_dimension). Smaller vectors take less room "
    "and search faster, with a little less detail. Only Embed v4 lets you choose; the v3 "
    "models are fixed at 1024 (384 for light models)."
)
PACE_TOOLTIP: Final = (
    "How many images the app sends per minute. Cohere limits each key: trial keys to "
    f"{RATE_LIMIT_IMAGES_PER_MINUTE[RateLimit.TRIAL]} images a minute, production keys to "
    f"{RATE_LIMIT_IMAGES_PER_MINUTE[RateLimit.PRODUCTION]}. Going faster only earns refusals."
)
MAX_CUSTOM_PER_MINUTE: Final = 100_000


def _dimension_text(dimension: int, default: int) -> str:
    return f"{dimension} numbers" + (" (default)" if dimension == default else "")


class SettingsPanel(QWidget):
    """The controls for the run's settings.

    Signals:
        settings_changed(object): a person changed a control; the argument is the new
            :class:`Settings` (emitted once per change, never by :meth:`set_settings`).

    Attributes:
        model, input_type, dimension: the combo boxes.
        type_boxes: one check box per embedding type.
        pace_buttons: one radio button per :class:`RateLimit`.
        custom_pace: the images-per-minute spin box for a custom pace.
    """

    settings_changed = Signal(object)

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        """Controls showing *settings* (the defaults when ``None``)."""
        super().__init__(parent)
        self._settings = settings or Settings()

        self.model = QComboBox(self)
        for spec in MODELS.values():
            self.model.addItem(spec.label, spec.name)
            self.model.setItemData(self.model.count() - 1, spec.name, Qt.ItemDataRole.ToolTipRole)
        self.model.setToolTip("Which Cohere model turns the images into vectors.")
        self.input_type = QComboBox(self)
        self.input_type.setToolTip("What the vectors are for (input_type).")
        self.dimension = QComboBox(self)
        self.dimension.setToolTip(DIMENSION_TOOLTIP)
        for combo in (self.model, self.input_type, self.dimension):
            # Long labels must not widen the side column; the open list still shows them whole.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(18)

        self.type_boxes: dict[EmbeddingType, QCheckBox] = {}
        types = QGridLayout()
        types.setContentsMargins(0, 0, 0, 0)
        for n, kind in enumerate(EmbeddingType):
            text, tip = EMBEDDING_TYPE_WORDS[kind]
            box = QCheckBox(text, self)
            box.setToolTip(f"{tip}\nAt least one number format is needed.")
            box.toggled.connect(self._on_control_changed)
            self.type_boxes[kind] = box
            types.addWidget(box, n, 0)

        self.pace_buttons: dict[RateLimit, QRadioButton] = {}
        self._pace_group = QButtonGroup(self)
        self.custom_pace = QSpinBox(self)
        self.custom_pace.setRange(1, MAX_CUSTOM_PER_MINUTE)
        self.custom_pace.setSuffix(" images per minute")
        self.custom_pace.setToolTip(PACE_TOOLTIP)
        pace = QVBoxLayout()
        pace.setContentsMargins(0, 0, 0, 0)
        pace.setSpacing(2)
        for limit, words in (
            (RateLimit.TRIAL, "Trial key"),
            (RateLimit.PRODUCTION, "Production key"),
            (RateLimit.CUSTOM, "Custom"),
        ):
            if limit is not RateLimit.CUSTOM:
                words += f": {RATE_LIMIT_IMAGES_PER_MINUTE[limit]} images per minute"
            button = QRadioButton(words, self)
            button.setToolTip(PACE_TOOLTIP)
            self.pace_buttons[limit] = button
            self._pace_group.addButton(button)
            button.toggled.connect(self._on_control_changed)
            if limit is RateLimit.CUSTOM:
                row = QHBoxLayout()
                row.addWidget(button)
                row.addWidget(self.custom_pace, 1)
                pace.addLayout(row)
            else:
                pace.addWidget(button)

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model)
        form.addRow("Used for", self.input_type)
        form.addRow("Vector size", self.dimension)
        form.addRow("Number format", types)
        form.addRow("Pace", pace)

        self._show(self._settings)
        self.model.currentIndexChanged.connect(self._on_model_changed)
        self.input_type.currentIndexChanged.connect(self._on_control_changed)
        self.dimension.currentIndexChanged.connect(self._on_control_changed)
        self.custom_pace.valueChanged.connect(self._on_control_changed)

    @property
    def settings(self) -> Settings:
        """The settings the controls show."""
        return self._settings

    def set_settings(self, settings: Settings) -> None:
        """Show *settings* (no ``settings_changed`` is emitted)."""
        self._settings = settings
        self._show(settings)

    # -- showing -------------------------------------------------------------------------------

    def _show(self, settings: Settings) -> None:
        blockers = [
            QSignalBlocker(w)
            for w in (
                self.model,
                self.input_type,
                self.dimension,
                self.custom_pace,
                *self.type_boxes.values(),
                *self.pace_buttons.values(),
            )
        ]
        self._show_model(settings)
        self._show_input_types(settings)
        self._show_dimensions(settings)
        chosen = set(settings.embedding_types)
        for kind, box in self.type_boxes.items():
            box.setChecked(kind.value in chosen)
        self.pace_buttons[settings.rate_limit].setChecked(True)
        self.custom_pace.setValue(settings.custom_images_per_minute)
        self.custom_pace.setEnabled(settings.rate_limit is RateLimit.CUSTOM)
        del blockers

    def _show_model(self, settings: Settings) -> None:
        for n in reversed(range(self.model.count())):
            name = self.model.itemData(n)
            if name not in MODELS and name != settings.model:
                self.model.removeItem(n)
        at = self.model.findData(settings.model)
        if at < 0:
            # A model the app cannot use (retired or unknown): shown, never offered.
            self.model.addItem(f"{settings.model} (cannot embed images)", settings.model)
            at = self.model.count() - 1
        self.model.setCurrentIndex(at)

    def _show_input_types(self, settings: Settings) -> None:
        self.input_type.clear()
        spec = settings.spec
        allowed = spec.input_types if spec else tuple(InputType)
        for kind in allowed:
            text, tip = INPUT_TYPE_WORDS[kind]
            self.input_type.addItem(f"{text} ({kind.value})", kind.value)
            self.input_type.setItemData(
                self.input_type.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
            )
        at = self.input_type.findData(settings.effective_input_type)
        self.input_type.setCurrentIndex(max(at, 0))
        self.input_type.setEnabled(len(allowed) > 1)
        current = INPUT_TYPE_WORDS.get(InputType(self.input_type.currentData()))
        self.input_type.setToolTip(current[1] if current else "")

    def _show_dimensions(self, settings: Settings) -> None:
        self.dimension.clear()
        spec = settings.spec
        if spec is None:
            self.dimension.addItem("unknown for this model", None)
            self.dimension.setEnabled(False)
            return
        if not spec.configurable_dimension:
            self.dimension.addItem(f"fixed at {spec.default_dimension} numbers", None)
            self.dimension.setEnabled(False)
            return
        for dimension in spec.dimensions:
            self.dimension.addItem(_dimension_text(dimension, spec.default_dimension), dimension)
        at = self.dimension.findData(settings.effective_dimension)
        self.dimension.setCurrentIndex(max(at, 0))
        self.dimension.setEnabled(True)

    # -- reading what a person did --------------------------------------------------------------

    @Slot(int)
    def _on_model_changed(self, _index: int) -> None:
        model = self.model.currentData()
        if not isinstance(model, str) or model == self._settings.model:
            return
        self._emit(self._settings.with_model(model))

    @Slot()
    def _on_control_changed(self) -> None:
        self._emit(self._read_controls())

    def _read_controls(self) -> Settings:
        s = self._settings
        input_type = self.input_type.currentData()
        if input_type == s.effective_input_type and s.input_type is None:
            input_type = None  # still the model's default: keep following it
        dimension = self.dimension.currentData()
        if dimension == s.effective_dimension and s.output_dimension is None:
            dimension = None
        # Unchecking the last format keeps it: _emit then shows it checked again.
        types = tuple(k.value for k, box in self.type_boxes.items() if box.isChecked())
        limit = next(
            (k for k, b in self.pace_buttons.items() if b.isChecked()), RateLimit.PRODUCTION
        )
        return replace(
            s,
            input_type=input_type,
            output_dimension=dimension,
            embedding_types=types or s.embedding_types,
            rate_limit=limit,
            custom_images_per_minute=self.custom_pace.value(),
        )

    def _emit(self, settings: Settings) -> None:
        if settings == self._settings:
            # A radio button being switched off, or a control set to what it showed.
            self._show(settings)
            return
        self._settings = settings
        self._show(settings)
        self.settings_changed.emit(settings)

"""What the window remembers between starts (QSettings): settings, geometry, folders, base URL.

QSettings is read and written on the GUI thread only; values are read with an explicit type, since
some backends store only strings. The API key is never stored here (it lives in the keyring).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from desktop.core.models import DEFAULT_MODEL, MODELS, EmbeddingType, RateLimit, Settings

_TYPES = frozenset(t.value for t in EmbeddingType)


class AppSettings:
    """Typed access to the window's QSettings."""

    def __init__(self, store: QSettings | None = None) -> None:
        self._s = store or QSettings()

    def _str(self, key: str, default: str = "") -> str:
        value = self._s.value(key, default, type=str)
        return value if isinstance(value, str) else default

    def _int(self, key: str, default: int = 0) -> int:
        value = self._s.value(key, default, type=int)
        return value if isinstance(value, int) else default

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._s.value(key, None, type=QByteArray)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def settings(self) -> Settings:
        """The embedding settings last used (defaults where missing or invalid)."""
        model = self._str("embed/model", DEFAULT_MODEL)
        if model not in MODELS:
            model = DEFAULT_MODEL
        input_type = self._str("embed/input_type") or None
        dimension = self._int("embed/output_dimension") or None
        types = tuple(self._str("embed/embedding_types", "float").split(","))
        try:
            rate = RateLimit(self._str("embed/rate_limit", RateLimit.PRODUCTION.value))
        except ValueError:
            rate = RateLimit.PRODUCTION
        custom = self._int("embed/custom_images_per_minute", 60)
        remembered = Settings(
            model=model,
            input_type=input_type,
            output_dimension=dimension,
            embedding_types=tuple(t for t in types if t in _TYPES) or ("float",),
            rate_limit=rate,
            custom_images_per_minute=max(1, custom),
        )
        # A stored choice the model cannot take (an older version, a hand edit) is dropped.
        return remembered.with_model(model)

    def save_settings(self, settings: Settings) -> None:
        """Remember the embedding settings."""
        s = self._s
        s.setValue("embed/model", settings.model)
        s.setValue("embed/input_type", settings.input_type or "")
        s.setValue("embed/output_dimension", settings.output_dimension or 0)
        s.setValue("embed/embedding_types", ",".join(settings.embedding_types))
        s.setValue("embed/rate_limit", settings.rate_limit.value)
        s.setValue("embed/custom_images_per_minute", settings.custom_images_per_minute)

    def geometry(self) -> QByteArray | None:
        """The window geometry last saved."""
        return self._bytes("window/geometry")

    def save_geometry(self, geometry: QByteArray) -> None:
        """Remember the window geometry."""
        self._s.setValue("window/geometry", geometry)

    def window_state(self) -> QByteArray | None:
        """The splitter and dock layout last saved."""
        return self._bytes("window/state")

    def save_window_state(self, state: QByteArray) -> None:
        """Remember the splitter and dock layout."""
        self._s.setValue("window/state", state)

    def last_folder(self) -> str:
        """The folder images were last added from ('' if none)."""
        return self._str("files/last_folder")

    def save_last_folder(self, folder: str) -> None:
        """Remember the folder images were last added from."""
        self._s.setValue("files/last_folder", folder)

    def base_url(self) -> str:
        """The API base URL chosen in the key dialog ('' for Cohere's own)."""
        return self._str("api/base_url")

    def save_base_url(self, url: str) -> None:
        """Remember the API base URL."""
        self._s.setValue("api/base_url", url)

    def first_start(self) -> bool:
        """Whether the window has never been opened before (then it shows the samples)."""
        return not bool(self._s.value("window/started_before", False, type=bool))

    def mark_started(self) -> None:
        """Remember that the window has been opened."""
        self._s.setValue("window/started_before", True)

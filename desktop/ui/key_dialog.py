"""The API key dialog: enter, test, save, replace or forget the key; choose the base URL.

Only the last four characters of a key are ever shown. The key box echoes dots, so its text can
be neither seen nor copied. Testing runs on a worker; everything else here is quick.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.endpoint import COHERE_BASE_URL
from desktop.core.keys import ENV_VAR, key_problem
from desktop.ui.keys_state import EndpointError, KeyHolder, KeyringUnavailable, KeyStatus
from desktop.ui.modal import run_modal
from desktop.workers.key_check import (
    CHECK_PATH,
    KEY_CHECK_TIMEOUT,
    KeyCheckResult,
    start_key_check,
)
from desktop.workers.tasks import Task, TaskPool

#: Where people create keys.
DASHBOARD_URL = "https://dashboard.cohere.com/api-keys"

_GOOD = "color: #1b6e2a;"
_BAD = "color: #a31515;"
_NOTE_FRAME = (
    "QFrame#note { background: palette(alternate-base); border: 1px solid palette(mid);"
    " border-radius: 4px; }"
)


def _wrapped(text: str = "", style: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    return label


class KeyDialog(QDialog):
    """Manage the API key and the base URL through a :class:`KeyHolder`.

    Tests drive it without ``exec()``: set :attr:`key_edit`'s text and call the slots
    (:meth:`test_key`, :meth:`save_key`, :meth:`keep_for_session`, :meth:`forget_key`,
    :meth:`apply_base_url`); :meth:`confirm_forget` is the one question it asks.

    Signals:
        key_checked(object): a key check answered (a :class:`KeyCheckResult`).
    """

    key_checked = Signal(object)

    def __init__(
        self,
        holder: KeyHolder,
        pool: TaskPool | None = None,
        parent: QWidget | None = None,
        check_timeout: float = KEY_CHECK_TIMEOUT,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("API key")
        self.setMinimumWidth(560)
        self._holder = holder
        self._own_pool = pool is None
        self._pool = pool if pool is not None else TaskPool(1, "key-check", self)
        self._check: Task | None = None
        self._check_timeout = check_timeout
        self._build()
        holder.changed.connect(self._show_status)
        self._show_status(holder.refresh())

    @classmethod
    def ask(
        cls, holder: KeyHolder, pool: TaskPool | None = None, parent: QWidget | None = None
    ) -> None:
        """Show the dialog modally until the user closes it."""
        run_modal(cls(holder, pool, parent))

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setSpacing(10)

        intro = _wrapped(
            "Embed Studio sends your images to Cohere with your own API key. The key is kept "
            "in your system's keyring (its password store), never in a file, and only its "
            "last four characters are ever shown."
        )
        layout.addWidget(intro)

        self.status_label = _wrapped()
        self.status_label.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.status_label)

        self.env_note = self._note()
        layout.addWidget(self.env_note)

        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setInputMethodHints(
            Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
            | Qt.InputMethodHint.ImhNoAutoUppercase
        )
        self.key_edit.setPlaceholderText("Paste your Cohere API key here")
        self.key_edit.setClearButtonEnabled(True)
        self.key_edit.returnPressed.connect(self.test_key)

        self.test_button = QPushButton("Test")
        self.test_button.setToolTip(
            f"Asks the server whether the key is valid (POST {CHECK_PATH}). This check is "
            "free: nothing is embedded or billed. Tests the key in the box, or else the key "
            "in use."
        )
        self.test_button.clicked.connect(self.test_key)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save_key)
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Remove the saved key from the system keyring.")
        self.forget_button.clicked.connect(self.forget_key)

        key_row = QGridLayout()
        key_row.addWidget(QLabel("New key:"), 0, 0)
        key_row.addWidget(self.key_edit, 0, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.forget_button)
        buttons.addStretch(1)
        key_row.addLayout(buttons, 1, 1)
        key_row.setColumnStretch(1, 1)
        layout.addLayout(key_row)

        self.result_label = _wrapped()
        self.result_label.hide()
        layout.addWidget(self.result_label)

        self.keyring_note = self._note()
        self.session_button = QPushButton("Keep it for this session only")
        self.session_button.setToolTip(
            "The key stays in memory until the app closes. It is never written to a file."
        )
        self.session_button.clicked.connect(self.keep_for_session)
        note_layout = self.keyring_note.layout()
        assert isinstance(note_layout, QVBoxLayout)
        note_layout.addWidget(self.session_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.keyring_note)

        where = QLabel(
            f'Need a key? Create one in Cohere\'s dashboard: <a href="{DASHBOARD_URL}">'
            f"{DASHBOARD_URL.removeprefix('https://')}</a>"
        )
        where.setOpenExternalLinks(True)
        where.setWordWrap(True)
        layout.addWidget(where)

        layout.addWidget(self._advanced())
        layout.addStretch(1)

        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        layout.addWidget(box)

    def _note(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("note")
        frame.setStyleSheet(_NOTE_FRAME)
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(10, 8, 10, 8)
        inner.addWidget(_wrapped())
        frame.hide()
        return frame

    @staticmethod
    def _note_label(frame: QFrame) -> QLabel:
        label = frame.findChild(QLabel)
        assert isinstance(label, QLabel)
        return label

    def _advanced(self) -> QWidget:
        container = QWidget()
        outer = QVBoxLayout(container)
        outer.setContentsMargins(0, 0, 0, 0)
        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.toggled.connect(self._show_advanced)
        outer.addWidget(self.advanced_button)

        self.advanced_panel = QWidget()
        grid = QGridLayout(self.advanced_panel)
        grid.setContentsMargins(18, 0, 0, 0)
        self.base_url_edit = QLineEdit(self._holder.base_url)
        self.base_url_edit.setPlaceholderText(COHERE_BASE_URL)
        self.base_url_edit.setToolTip(
            "The address requests go to (the SDK's base_url). The app adds /v2/embed itself."
        )
        self.base_url_edit.editingFinished.connect(self.apply_base_url)
        reset = QPushButton("Use Cohere's")
        reset.setToolTip(f"Send to Cohere's own API, {COHERE_BASE_URL}.")
        reset.clicked.connect(self.use_cohere_url)
        grid.addWidget(QLabel("Base URL:"), 0, 0)
        grid.addWidget(self.base_url_edit, 0, 1)
        grid.addWidget(reset, 0, 2)
        self.base_url_note = _wrapped()
        self.base_url_note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        grid.addWidget(self.base_url_note, 1, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        outer.addWidget(self.advanced_panel)
        self._show_base_url_note("")
        self.advanced_button.setChecked(bool(self._holder.base_url))
        self._show_advanced(bool(self._holder.base_url))
        return container

    # -- showing state --------------------------------------------------------------------

    @Slot(object)
    def _show_status(self, status: KeyStatus) -> None:
        self.status_label.setText(status.summary())
        env_label = self._note_label(self.env_note)
        if status.environment_last4:
            env_label.setText(
                f"The {ENV_VAR} environment variable is set, so its key (ending in "
                f"{status.environment_last4}) is the one used. You can still save a key here: "
                f"it is used whenever {ENV_VAR} is not set."
            )
        self.env_note.setVisible(bool(status.environment_last4))

        keyring_label = self._note_label(self.keyring_note)
        keyring_label.setText(
            "This computer has no usable system keyring (a password store such as GNOME "
            "Keyring, KWallet, the macOS Keychain or the Windows Credential Manager), so the "
            "key cannot be saved. You can keep it for this session only: it stays in memory, "
            "is never written to a file, and is forgotten when the app closes."
        )
        keyring_label.setToolTip(status.keyring_problem)
        self.keyring_note.setVisible(not status.keyring_available)

        replacing = bool(status.keyring_last4)
        self.save_button.setText("Replace saved key" if replacing else "Save")
        self.save_button.setToolTip(
            f"Save the key in the box to the system keyring, replacing the key ending in "
            f"{status.keyring_last4}."
            if replacing
            else "Save the key in the box to the system keyring."
        )
        self.save_button.setEnabled(status.keyring_available)
        self.forget_button.setEnabled(bool(status.keyring_last4 or status.session_last4))

    def _show_result(self, text: str, good: bool | None = None) -> None:
        style = "" if good is None else (_GOOD if good else _BAD)
        self.result_label.setStyleSheet(style)
        self.result_label.setText(text)
        self.result_label.setVisible(bool(text))

    def _show_base_url_note(self, text: str, good: bool | None = None) -> None:
        default = (
            f"Leave it empty to use Cohere's own API ({COHERE_BASE_URL}). Change it only for "
            "a compatible server, such as the Embed Studio emulator."
        )
        self.base_url_note.setText(text or default)
        self.base_url_note.setStyleSheet(_BAD if good is False else "")

    @Slot(bool)
    def _show_advanced(self, shown: bool) -> None:
        self.advanced_panel.setVisible(shown)
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.advanced_button.setArrowType(arrow)

    # -- actions --------------------------------------------------------------------------

    def _typed_key(self) -> str:
        return self.key_edit.text().strip()

    @Slot()
    def test_key(self) -> None:
        """Check the key in the box (or else the key in use) on a worker."""
        typed = self._typed_key()
        if typed:
            secret = typed
        else:
            in_use = self._holder.api_key()
            if in_use is None:
                self._show_result("Paste a key in the box first, then test it.", False)
                return
            secret = in_use.secret
        problem = key_problem(secret)
        if problem is not None:
            self._show_result(problem, False)
            return
        if self._check is not None:
            self._check.cancel()
        self.test_button.setEnabled(False)
        self._show_result(f"Checking the key with {self._holder.endpoint.url} …")
        self._check = start_key_check(
            self._pool, secret, self._holder.endpoint, self._on_checked, self._check_timeout
        )

    @Slot(object)
    def _on_checked(self, result: KeyCheckResult) -> None:
        self._check = None
        self.test_button.setEnabled(True)
        self._show_result(result.message, result.works)
        self.key_checked.emit(result)

    @Slot()
    def save_key(self) -> None:
        """Save the key in the box to the keyring (replacing a saved one)."""
        typed = self._typed_key()
        if not typed:
            self._show_result("Paste a key in the box first, then save it.", False)
            return
        try:
            self._holder.save(typed)
        except ValueError as exc:
            self._show_result(str(exc), False)
            return
        except KeyringUnavailable:
            self._show_result(
                "The key could not be saved: there is no usable system keyring.", False
            )
            return
        self.key_edit.clear()
        status = self._holder.status
        saved = f"Saved the key ending in {status.keyring_last4} in the system keyring."
        if status.environment_last4:
            saved += f" The {ENV_VAR} environment variable still wins while it is set."
        self._show_result(saved, True)

    @Slot()
    def keep_for_session(self) -> None:
        """Keep the key in the box in memory until the app closes."""
        typed = self._typed_key()
        if not typed:
            self._show_result("Paste a key in the box first.", False)
            return
        try:
            self._holder.keep_for_session(typed)
        except ValueError as exc:
            self._show_result(str(exc), False)
            return
        self.key_edit.clear()
        self._show_result(
            f"Keeping the key ending in {self._holder.status.session_last4} until the app "
            "closes. It was not written anywhere.",
            True,
        )

    def confirm_forget(self) -> bool:
        """Ask before forgetting the key (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Forget the key?",
            "Remove the saved API key from this computer? You will need to paste it again to run.",
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def forget_key(self) -> None:
        """Forget the session key and remove the saved one from the keyring."""
        if not self.confirm_forget():
            return
        try:
            self._holder.forget()
        except KeyringUnavailable:
            self._show_result("The system keyring could not be reached to remove the key.", False)
            return
        message = "The key was forgotten."
        if self._holder.status.environment_last4:
            message += (
                f" The {ENV_VAR} environment variable still provides one; remove it from your "
                "environment to stop using it."
            )
        self._show_result(message, True)

    @Slot()
    def apply_base_url(self) -> None:
        """Use the base URL in the box, if it is valid; show what was fixed or what is wrong."""
        try:
            endpoint = self._holder.set_base_url(self.base_url_edit.text())
        except EndpointError as exc:
            self._show_base_url_note(str(exc), False)
            return
        if self.base_url_edit.text().strip() and endpoint.fixed:
            self.base_url_edit.setText(endpoint.url)
        self._show_base_url_note(endpoint.fixed)

    @Slot()
    def use_cohere_url(self) -> None:
        """Go back to Cohere's own API."""
        self.base_url_edit.clear()
        self.apply_base_url()

    # -- closing --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Drop any key check under way (and wait for it when the dialog owns the pool)."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self._own_pool:
            self._pool.shutdown()

    def done(self, result: int) -> None:
        """Close: a check under way is dropped."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
            self.test_button.setEnabled(True)
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window drops a check under way, like Close."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
        super().closeEvent(event)

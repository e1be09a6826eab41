"""The window's view of the API key and the base URL: where the key comes from, and which one.

The key is looked for in this order: the ``CO_API_KEY`` environment variable, a key kept for
this session only (when the system keyring cannot be used), then the system keyring. The
keyring is read on the GUI thread, and only when asked (:meth:`KeyHolder.refresh`). The key
text is never stored anywhere but the keyring or this object's memory; only its last four
characters are ever shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from desktop.core.endpoint import COHERE_BASE_URL, Endpoint, EndpointError, parse_endpoint
from desktop.core.keys import (
    ENV_VAR,
    ApiKey,
    KeyringUnavailable,
    KeySource,
    forget_key,
    key_problem,
    mask,
    read_keyring,
    store_key,
)

__all__ = ["EndpointError", "KeyHolder", "KeyStatus", "KeyringUnavailable"]


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """Where the key in use comes from, and what else is known; never the key itself.

    Attributes:
        source: where the key in use comes from (``None``: there is no key).
        last4: the key in use, masked (``…abcd``), or '' when there is none.
        environment_last4: the ``CO_API_KEY`` key, masked, or '' when the variable is unset.
        keyring_last4: the key saved in the keyring, masked, or '' when none is saved.
        session_last4: the key kept for this session, masked, or ''.
        keyring_available: whether the system keyring could be read.
        keyring_problem: why it could not, in plain words ('' when it could).
    """

    source: KeySource | None
    last4: str = ""
    environment_last4: str = ""
    keyring_last4: str = ""
    session_last4: str = ""
    keyring_available: bool = True
    keyring_problem: str = ""

    @property
    def has_key(self) -> bool:
        """Whether a key is available for a run."""
        return self.source is not None

    def summary(self) -> str:
        """One line for people: which key is used and where it comes from."""
        if self.source is KeySource.ENVIRONMENT:
            return f"Using the key ending in {self.last4} from the {ENV_VAR} environment variable."
        if self.source is KeySource.MEMORY:
            return (
                f"Using the key ending in {self.last4}, kept for this session only: it is "
                "forgotten when the app closes."
            )
        if self.source is KeySource.KEYRING:
            return f"Using the key ending in {self.last4}, saved in the system keyring."
        return "No API key yet."


class KeyHolder(QObject):
    """The key and base URL the window uses; the key dialog changes them.

    Create it on the GUI thread; every method runs there (keyring calls included).

    Signals:
        changed(object): the key situation changed; the new :class:`KeyStatus`.
        base_url_changed(str): the base URL changed ('' means Cohere's own); persist it.
    """

    changed = Signal(object)
    base_url_changed = Signal(str)

    def __init__(self, base_url: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session_secret: str | None = None
        self._keyring_secret: str | None = None
        try:
            self._endpoint = parse_endpoint(base_url)
        except EndpointError:
            # A remembered URL that no longer parses (hand-edited settings): use Cohere's.
            self._endpoint = parse_endpoint(None)
        self._status = KeyStatus(None)
        self.refresh()

    # -- the key --------------------------------------------------------------------------

    @property
    def status(self) -> KeyStatus:
        """The key situation as last read."""
        return self._status

    def refresh(self) -> KeyStatus:
        """Read the environment and the keyring again; emits ``changed`` when it differs."""
        keyring_available, problem = True, ""
        try:
            self._keyring_secret = read_keyring()
        except KeyringUnavailable as exc:
            self._keyring_secret = None
            keyring_available, problem = False, str(exc)
        env = self._environment_secret()
        used = self.api_key()
        status = KeyStatus(
            source=used.source if used else None,
            last4=used.last4 if used else "",
            environment_last4=mask(env) if env else "",
            keyring_last4=mask(self._keyring_secret) if self._keyring_secret else "",
            session_last4=mask(self._session_secret) if self._session_secret else "",
            keyring_available=keyring_available,
            keyring_problem=problem,
        )
        if status != self._status:
            self._status = status
            self.changed.emit(status)
        return status

    def api_key(self) -> ApiKey | None:
        """The key a run uses now, or ``None``."""
        env = self._environment_secret()
        if env:
            return ApiKey(env, KeySource.ENVIRONMENT)
        if self._session_secret:
            return ApiKey(self._session_secret, KeySource.MEMORY)
        if self._keyring_secret:
            return ApiKey(self._keyring_secret, KeySource.KEYRING)
        return None

    def save(self, secret: str) -> None:
        """Save *secret* in the system keyring (replacing any saved key).

        Raises:
            ValueError: *secret* cannot be an API key (the message never quotes it).
            KeyringUnavailable: the keyring cannot be used; offer :meth:`keep_for_session`.
        """
        secret = self._checked(secret)
        try:
            store_key(secret)
        except KeyringUnavailable:
            self.refresh()
            raise
        self._session_secret = None
        self.refresh()

    def keep_for_session(self, secret: str) -> None:
        """Keep *secret* in memory until the app closes (nothing is written anywhere).

        Raises:
            ValueError: *secret* cannot be an API key (the message never quotes it).
        """
        self._session_secret = self._checked(secret)
        self.refresh()

    def forget(self) -> None:
        """Forget the session key and remove the saved key from the keyring.

        Raises:
            KeyringUnavailable: the keyring could not be reached (the session key is gone).
        """
        self._session_secret = None
        try:
            forget_key()
        finally:
            self.refresh()

    @staticmethod
    def _checked(secret: str) -> str:
        secret = secret.strip()
        problem = key_problem(secret)
        if problem is not None:
            raise ValueError(problem)
        return secret

    @staticmethod
    def _environment_secret() -> str:
        return os.environ.get(ENV_VAR, "").strip()

    # -- the base URL ---------------------------------------------------------------------

    @property
    def endpoint(self) -> Endpoint:
        """The validated base URL runs and key checks go to."""
        return self._endpoint

    @property
    def base_url(self) -> str:
        """The base URL to remember ('' for Cohere's own)."""
        return "" if self._endpoint.url == COHERE_BASE_URL else self._endpoint.url

    def set_base_url(self, text: str) -> Endpoint:
        """Use the base URL *text* ('' for Cohere's own); returns it validated.

        Raises:
            EndpointError: *text* cannot be a base URL (nothing changes).
        """
        endpoint = parse_endpoint(text)
        if endpoint.url != self._endpoint.url:
            self._endpoint = endpoint
            self.base_url_changed.emit(self.base_url)
        else:
            self._endpoint = endpoint
        return endpoint

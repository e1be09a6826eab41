"""The API key: from the environment or the OS keyring, never from a file or an argument.

The key is handed around as a value and never logged, printed or written anywhere; only its last
four characters are ever shown.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import keyring
import keyring.errors

_log = logging.getLogger(__name__)

#: The keyring service name the app and the command line share.
KEYRING_SERVICE: Final = "embed-studio"
#: The keyring entry (user name) under that service.
KEYRING_USER: Final = "cohere-api-key"
#: The environment variable the SDK itself reads.
ENV_VAR: Final = "CO_API_KEY"


class KeySource(StrEnum):
    """Where a key came from."""

    ENVIRONMENT = "environment"
    KEYRING = "keyring"
    MEMORY = "memory"


class KeyringUnavailable(RuntimeError):
    """No usable OS keyring (headless machine, locked or missing Secret Service)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key and where it came from; its text never appears in ``repr`` or ``str``."""

    secret: str = field(repr=False)
    source: KeySource

    def __str__(self) -> str:
        return f"key ending in {self.last4} (from the {self.source.value})"

    @property
    def last4(self) -> str:
        """The last four characters, the only part ever shown."""
        return mask(self.secret)


def mask(secret: str) -> str:
    """``…abcd``: the last four characters of a key, or ``…`` for a very short one."""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


def key_problem(secret: str) -> str | None:
    """Why *secret* cannot be an API key, in plain words that never quote it; ``None`` if fine.

    A key with a space, a line break or a non-ASCII character would make the HTTP library
    refuse the request header with an error message that quotes the whole key, so such a key
    is never sent.
    """
    if not secret:
        return "No key was entered."
    if any(char.isspace() for char in secret):
        return (
            "The key has a space or a line break inside it. Copy it again from Cohere's "
            "dashboard and paste it without them."
        )
    if not secret.isascii() or not secret.isprintable():
        return (
            "The key has characters an API key never has (accented letters, symbols or "
            "invisible characters). Copy it again from Cohere's dashboard."
        )
    return None


def scrubbed(text: str, secret: str) -> str:
    """*text* with every occurrence of *secret* replaced by its masked form."""
    return text.replace(secret, mask(secret)) if secret else text


def _keyring_call(what: str, func: object, *args: str) -> str | None:
    try:
        result = func(*args)  # type: ignore[operator]
    except keyring.errors.KeyringError as exc:
        _log.debug("keyring %s failed: %s", what, type(exc).__name__)
        raise KeyringUnavailable(
            f"The system keyring could not {what} the key: no keyring service is running, or "
            "it is locked."
        ) from None
    return result if isinstance(result, str) else None


def read_keyring() -> str | None:
    """The key stored in the OS keyring, or ``None``; raises :class:`KeyringUnavailable`."""
    return _keyring_call("read", keyring.get_password, KEYRING_SERVICE, KEYRING_USER)


def store_key(secret: str) -> None:
    """Keep *secret* in the OS keyring; raises :class:`KeyringUnavailable`."""
    _keyring_call("store", keyring.set_password, KEYRING_SERVICE, KEYRING_USER, secret.strip())


def forget_key() -> None:
    """Remove the key from the OS keyring (nothing happens if none is stored)."""
    try:
        keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
    except keyring.errors.PasswordDeleteError:
        return
    except keyring.errors.KeyringError as exc:
        _log.debug("keyring forget failed: %s", type(exc).__name__)
        raise KeyringUnavailable(
            "The system keyring could not remove the key: no keyring service is running, or it "
            "is locked."
        ) from None


def find_key() -> ApiKey | None:
    """The key to use: ``CO_API_KEY`` first, then the keyring; ``None`` if neither has one.

    A keyring that cannot be reached counts as having no key (the caller says where to put one).
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return ApiKey(env, KeySource.ENVIRONMENT)
    try:
        stored = read_keyring()
    except KeyringUnavailable:
        return None
    return ApiKey(stored, KeySource.KEYRING) if stored else None

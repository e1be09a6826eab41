"""Bearer-key checks, worded as the API words them. Keys are compared, never logged or echoed."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection

from desktop.emulator.refusal import Refusal

#: The organisation every key of this emulator belongs to.
ORGANIZATION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "embed-studio-emulator/organization"))


def authorise(authorization: str | None, valid_keys: Collection[str] | None) -> str:
    """The key of an authorised request, from its ``Authorization`` header.

    *valid_keys* ``None`` accepts any non-empty key.

    Raises:
        Refusal: 401 ``no api key supplied`` or ``invalid api token``.
    """
    scheme, _, key = (authorization or "").strip().partition(" ")
    key = key.strip()
    if not scheme or (scheme.lower() == "bearer" and not key):
        raise Refusal(401, "no api key supplied")
    if scheme.lower() != "bearer" or (valid_keys is not None and key not in valid_keys):
        raise Refusal(401, "invalid api token")
    return key


def owner_id(key: str) -> str:
    """A stable id for the key's owner that reveals nothing of the key."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"embed-studio-emulator/owner/{digest}"))

"""The API's base URL: defaults, validation, and the mistakes people make with it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

#: Cohere's own API (what the SDK uses when no base URL is given).
COHERE_BASE_URL: Final = "https://api.cohere.com"

# The SDK appends "v2/embed" itself, so a base URL ending in one of these sends to /v2/v2/embed.
_VERSION_SUFFIXES: Final = ("/v2/embed", "/v1/embed", "/v2", "/v1")


class EndpointError(ValueError):
    """A base URL that cannot work, with a plain-words reason."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A validated base URL.

    Attributes:
        url: scheme, host, port and path, with no trailing slash (also the store's key).
        fixed: what was corrected in the URL the user gave ('' when nothing was).
    """

    url: str
    fixed: str = ""

    @property
    def is_cohere(self) -> bool:
        """Whether this is Cohere's own API."""
        host = urlsplit(self.url).hostname or ""
        return host == "cohere.com" or host.endswith((".cohere.com", ".cohere.ai"))

    @property
    def is_loopback(self) -> bool:
        """Whether the server runs on this machine."""
        host = urlsplit(self.url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def parse_endpoint(text: str | None) -> Endpoint:
    """Validate a base URL (``None`` or '' means Cohere's own), fixing a trailing ``/v2``."""
    raw = (text or "").strip()
    if not raw:
        return Endpoint(COHERE_BASE_URL)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise EndpointError(
            f"The base URL must start with https:// (or http:// for a server on this machine), "
            f"not {raw!r}."
        )
    if not parts.hostname:
        raise EndpointError(f"The base URL {raw!r} names no server.")
    if parts.query or parts.fragment:
        raise EndpointError("The base URL must not carry a query (?...) or a fragment (#...).")
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError as exc:
        raise EndpointError(f"The base URL {raw!r} has an invalid port.") from exc
    path = parts.path.rstrip("/")
    fixed = ""
    for suffix in _VERSION_SUFFIXES:
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
            fixed = (
                f"Removed {suffix!r} from the end of the base URL: the app adds the API "
                "version itself."
            )
            break
    url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))
    return Endpoint(url, fixed)

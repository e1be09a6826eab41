"""A request as people read it, and as code that sends exactly that request again.

The key is never in any of these texts: code names ``$CO_API_KEY`` (the variable the SDK reads)
and the user fills it in themselves.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any, Final

from desktop.core.payload import body_json

#: How many characters of a data URL's base64 the shortened view keeps.
SHOWN_BASE64_CHARS: Final = 24
_DATA_URL: Final = re.compile(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)")


def _shorten(match: re.Match[str]) -> str:
    mime, payload = match.group(1), match.group(2)
    if len(payload) <= SHOWN_BASE64_CHARS:
        return match.group(0)
    return (
        f"data:{mime};base64,{payload[:SHOWN_BASE64_CHARS]}… "
        f"({len(match.group(0)):,} characters in all)"
    )


def readable_request(kwargs: dict[str, Any]) -> str:
    """The request body, indented, with every data URL cut to its first characters."""
    text = json.dumps(json.loads(body_json(kwargs)), indent=2, ensure_ascii=False)
    return _DATA_URL.sub(_shorten, text)


def full_request(kwargs: dict[str, Any]) -> str:
    """The request body exactly as it is sent (compact JSON, whole data URLs)."""
    return body_json(kwargs).decode("utf-8")


def curl_command(base_url: str, kwargs: dict[str, Any]) -> str:
    """A shell command that sends this very request with curl (the key from ``$CO_API_KEY``)."""
    body = full_request(kwargs)
    return (
        f"curl --fail-with-body -X POST {shlex.quote(base_url + '/v2/embed')} \\\n"
        '  -H "Authorization: Bearer $CO_API_KEY" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        "  --data-binary @- <<'EMBED_STUDIO_REQUEST'\n"
        f"{body}\n"
        "EMBED_STUDIO_REQUEST\n"
    )


def python_code(base_url: str, kwargs: dict[str, Any]) -> str:
    """Python that sends this very request with the official SDK (the key from the environment)."""
    arguments = "".join(
        f"    {name}={json.dumps(value, ensure_ascii=False)},\n" for name, value in kwargs.items()
    )
    kind = kwargs.get("embedding_types", ["float"])[0]
    attribute = "float_" if kind == "float" else kind
    return (
        "import os\n\n"
        "import cohere\n\n"
        "co = cohere.ClientV2(\n"
        '    api_key=os.environ["CO_API_KEY"],\n'
        f"    base_url={json.dumps(base_url)},\n"
        ")\n"
        "response = co.embed(\n"
        f"{arguments}"
        ")\n"
        f"vectors = response.embeddings.{attribute}\n"
        'print(len(vectors), "vectors of", len(vectors[0]), "numbers")\n'
    )

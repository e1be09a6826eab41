"""What Pillow and its codecs raise on files they cannot read, in one place.

Pillow has no single exception for bad data: a damaged header or stream surfaces as any of
these, depending on the format and how it is broken.
"""

from __future__ import annotations

import struct
from typing import Final

from PIL import Image

#: Reading a header (no pixels decoded). RuntimeError is what Pillow's AVIF (libavif) plugin
#: raises for a damaged file ("Failed to decode image: ...").
HEADER_ERRORS: Final = (
    OSError,
    RuntimeError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
)

#: Decoding pixels. Warning is here because a process run with warnings as errors turns a
#: decoder's "corrupt data" warning into one; MemoryError, because a damaged size field can ask
#: for an absurd buffer.
DECODE_ERRORS: Final = (
    *HEADER_ERRORS,
    Image.DecompressionBombError,
    MemoryError,
    Warning,
)

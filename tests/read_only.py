"""Making a file or folder read-only for real, root included (CI runs as root)."""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

# Linux's file-attribute ioctls (linux/fs.h): root ignores permission bits, not this flag.
_FS_IOC_GETFLAGS: Final = 0x80086601
_FS_IOC_SETFLAGS: Final = 0x40086602
_FS_IMMUTABLE_FL: Final = 0x10


def _set_immutable(path: Path, on: bool) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags)
        flags[0] = flags[0] | _FS_IMMUTABLE_FL if on else flags[0] & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags)
    finally:
        os.close(fd)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make *path* (a file or a folder) read-only inside the block, for root too.

    As root the immutable flag is set as well; where the file system refuses it, the test is
    skipped and says why.
    """
    mode = path.stat().st_mode & 0o777
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = False
    try:
        if os.geteuid() == 0:
            try:
                _set_immutable(path, True)
            except OSError as exc:
                pytest.skip(
                    f"as root, only the immutable flag stops writes, and it is refused: {exc}"
                )
            immutable = True
        yield
    finally:
        if immutable:
            _set_immutable(path, False)
        path.chmod(mode)

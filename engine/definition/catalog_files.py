"""Reading a catalog's files: regular files inside the catalog folder, nothing else.

A catalog folder comes from a review or a checkout, and whoever wrote it chooses what its entries
are. `ln -s /etc/passwd 1.1.5.yaml` would make validation read a file outside the catalog and
quote its lines in the YAML error; a FIFO or `/dev/zero` named `x.yaml` would block or never end.
So a definition (YAML) or a drawn process (BPMN) is read only if its real path, links resolved,
lies inside the catalog folder, and it is opened without following a link and without blocking,
and read only if it is a regular file of bounded size. A refusal says what the entry is, never
what the file it points to holds.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["CatalogFileError", "read_catalog_file"]

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class CatalogFileError(ValueError):
    """A catalog entry that is not a file okno reads. The message is a predicate fit to follow
    the file's name ("does not exist", "is a FIFO (named pipe), not a regular file");
    `missing` is True when there is no such entry at all."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def read_catalog_file(path: Path, root: Path, max_bytes: int, folder: str = "the catalog folder") -> bytes:
    """The bytes of `path`, a regular file whose real path lies inside the folder `root`.

    Raises CatalogFileError for a link out of `root` (`folder` names it in the message), a
    missing entry, a device, FIFO, socket or folder, a file over `max_bytes`, and any error
    reading it.
    """
    try:
        real = path.resolve()
        inside = real.is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links, a folder that cannot be entered
        raise CatalogFileError("cannot be read: a loop of links or a folder that cannot be entered") from None
    if not inside:
        raise CatalogFileError(f"lies outside {folder}; links out of it are not followed")
    try:
        fd = os.open(real, _FLAGS)
    except FileNotFoundError:
        raise CatalogFileError("does not exist", missing=True) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a loop of links, or replaced by a link since resolved
            raise CatalogFileError("is a link that cannot be followed") from None
        raise CatalogFileError(f"cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CatalogFileError(f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise CatalogFileError(f"is {info.st_size} bytes, over the limit of {max_bytes}")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:  # the file may grow while it is read
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise CatalogFileError(f"is over the limit of {max_bytes} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise CatalogFileError(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"

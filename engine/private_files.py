"""Files only the service's own user may read: the database (with its WAL and shared-memory
files), the signing key, and whatever else holds password hashes or personal data (backups).

Whatever the umask: a file is created with mode 0600 and a folder okno creates with 0700. The
umask can only take bits away, and one such as 0277 would take the owner's write as well, so the
mode is set again on the open descriptor after creating. Files and folders that exist already
are left as the operator made them.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: str | os.PathLike[str]) -> Path:
    """`path` as a folder: each missing one, parents included, created 0700."""
    path = Path(path)
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:  # another process made it a moment ago: theirs is as private
            continue
        os.chmod(folder, FOLDER_MODE)
    return Path(path if not missing else missing[0])


def create_private_file(path: str | os.PathLike[str]) -> int:
    """Create `path` (0600, its folder as `private_folder`) and return a descriptor open for
    writing; FileExistsError when it exists already, so two processes never both create it."""
    path = Path(path)
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private_file(path: str | os.PathLike[str]) -> bool:
    """Create `path` empty and 0600 unless it exists; whether it was created."""
    try:
        fd = create_private_file(path)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_to_others(path: str | os.PathLike[str]) -> bool:
    """Whether users other than the owner may read or write the file `path` (an older okno made
    its database 0644)."""
    return bool(stat.S_IMODE(os.stat(path).st_mode) & 0o077)

"""Files a user names for onnxprof to read: they must be regular files.

``open()`` on a FIFO waits for a writer forever, and a device such as /dev/zero never ends; a folder
fails later with a confusing message. Every reader of a user-named file checks here first.
"""

from __future__ import annotations

import os
from pathlib import Path

from onnxprof.errors import OnnxprofError, UsageError


def regular_file(path: str | os.PathLike, what: str, error: type[OnnxprofError] = UsageError) -> Path:
    """``path`` as a Path, or ``error`` saying in one line why it cannot be read as ``what``."""
    found = Path(path)
    if not found.exists():
        raise error(f"{os.fspath(path)}: no such file; give the path of {what}")
    if found.is_dir():
        raise error(f"{os.fspath(path)}: is a folder; give the path of {what} inside it")
    if not found.is_file():
        raise error(f"{os.fspath(path)}: is not a regular file (a pipe, socket or device); save {what} to a file "
                    "and give its path")
    return found

"""Atomic file writes: a file either has its complete new content or does not
change, so an interrupted run never leaves a half-written dataset or
checkpoint that a later run would trust."""
import os
import tempfile
from typing import Any, Callable, IO

import torch


def atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Calls ``write(file)`` on a temporary file next to ``path``, flushes it to
    disk, then renames it to ``path`` (an atomic replace on POSIX and Windows)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the mode open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_torch_save(obj: Any, path: str) -> None:
    """:func:`torch.save` that never leaves a partial file at ``path``."""
    atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))

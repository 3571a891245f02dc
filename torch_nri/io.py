"""Atomic file writes: a file either has its complete new content or does not
change, so an interrupted run never leaves a half-written dataset or
checkpoint that a later run would trust. A process killed mid-write (SIGKILL
runs no cleanup) leaves its temporary file, ``.tmp-*``, which the next run in
the same directory removes (:func:`remove_temporaries`)."""
import glob
import os
import tempfile
from typing import Any, Callable, IO, List

TEMPORARY_PREFIX = ".tmp-"

import torch


def atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Calls ``write(file)`` on a temporary file next to ``path``, flushes it to
    disk, then renames it to ``path`` (an atomic replace on POSIX and Windows)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX,
                                    suffix=os.path.basename(path))
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


def remove_temporaries(directory: str) -> List[str]:
    r"""Removes the temporary files that writes killed before their rename
    left in ``directory``; returns their paths. Call it where no other
    process writes into ``directory`` (the run's own, at its start)."""
    removed = sorted(glob.glob(os.path.join(glob.escape(directory), TEMPORARY_PREFIX + "*")))
    for path in removed:
        os.unlink(path)
    return removed


def describe_error(error: Exception) -> str:
    r"""The message of an error for one line of text: an :class:`OSError`
    names its file and its reason (``path: No such file or directory``),
    not its number (``[Errno 2] ...``)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


def check_directory(path: str, name: str) -> None:
    r"""Raises a :class:`ValueError` that names the argument ``name`` and
    the path where the directory ``path`` cannot be: ``path`` is an existing
    file, or a file stands where one of its parent directories would be.
    It creates nothing; :func:`check_output_dir` also creates the directory."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"'{name}' must be a directory, but {path} is an existing file")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):  # the nearest part of the path that exists
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"'{name}' must be a directory, but {parent}, on its path {path}, "
                         f"is an existing file")


def check_output_dir(path: str, name: str = "out") -> None:
    r"""Creates the output directory ``path`` (the argument ``name``) or
    raises a :class:`ValueError` that says why it cannot be written: an
    existing file (:func:`check_directory`), or a directory without write
    permission."""
    check_directory(path, name)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the '{name}' directory {path}: "
                         f"{error.strerror or error}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"the '{name}' directory {path} is not writable")


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

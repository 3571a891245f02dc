import os

import pytest
import torch

from torch_nri.io import (TEMPORARY_PREFIX, atomic_torch_save, atomic_write, check_directory,
                          check_output_dir, remove_temporaries)


def test_interrupted_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "state.pt")
    atomic_torch_save({"step": 1}, path)

    def half_then_crash(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_crash)
    assert torch.load(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["state.pt"]  # no temporary file left behind


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_torch_save([1], str(tmp_path / "a.pt"))
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a.pt").st_mode & 0o777 == 0o644


def test_a_write_killed_by_sigkill_leaves_the_old_file_and_a_temporary_the_next_run_removes(
        tmp_path):
    # SIGKILL runs no cleanup: the old file stays whole, the temporary stays
    # behind until remove_temporaries (train() calls it on its directory).
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "last.pt"
    atomic_torch_save({"epoch": 1}, str(path))
    writer = subprocess.Popen([sys.executable, "-c", f"""
import time
from torch_nri.io import atomic_write
def slow(f):
    f.write(b"half a checkpoint")
    f.flush()
    time.sleep(60)
atomic_write({str(path)!r}, slow)
"""])
    try:
        for _ in range(600):
            if len(os.listdir(tmp_path)) == 2:
                break
            time.sleep(0.05)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    leftovers = [name for name in os.listdir(tmp_path) if name != "last.pt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(TEMPORARY_PREFIX)
    assert torch.load(path) == {"epoch": 1}
    assert remove_temporaries(str(tmp_path)) == [str(tmp_path / leftovers[0])]
    assert os.listdir(tmp_path) == ["last.pt"]


def test_check_output_dir(tmp_path):
    check_output_dir(str(tmp_path / "new" / "run"))
    assert os.path.isdir(tmp_path / "new" / "run")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"'out' must be a directory, but .*file is an "
                                         r"existing file"):
        check_output_dir(str(tmp_path / "file"))
    with pytest.raises(ValueError, match=r"'data_root' must be a directory, but .*file, on its "
                                         r"path .*file/sub/run, is an existing file"):
        check_output_dir(str(tmp_path / "file" / "sub" / "run"), "data_root")


def test_check_directory_creates_nothing_and_names_the_file_in_the_way(tmp_path):
    check_directory(str(tmp_path / "new" / "cache"), "root")
    assert not os.path.exists(tmp_path / "new")
    check_directory(str(tmp_path), "root")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=rf"^'root' must be a directory, but "
                                         rf"{tmp_path}/file is an existing file$"):
        check_directory(str(tmp_path / "file"), "root")
    with pytest.raises(ValueError, match=rf"^'--out' must be a directory, but {tmp_path}/file, "
                                         rf"on its path {tmp_path}/file/a/b, is an existing "
                                         rf"file$"):
        check_directory(str(tmp_path / "file" / "a" / "b"), "--out")

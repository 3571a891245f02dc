import os

import pytest
import torch

from torch_nri.io import atomic_torch_save, atomic_write


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

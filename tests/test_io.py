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

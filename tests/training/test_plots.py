import subprocess
import sys

SCRIPT = """
import matplotlib
matplotlib.use("svg")
import torch
import torch_nri.training
from torch_nri.training.plots import plot_curves
row = dict(epoch=1, train_nll=1.0, valid_nll=1.0, train_kl=0.1, valid_kl=0.1,
           train_accuracy=0.5, valid_accuracy=0.5)
plot_curves([row, dict(row, epoch=2)], {path!r})
import matplotlib.pyplot as plt
print(matplotlib.get_backend(), len(plt.get_fignums()))
"""


def test_plots_leave_the_session_s_backend_and_figures_alone(tmp_path):
    path = str(tmp_path / "curves.png")
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(path=path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["svg", "0"]
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")

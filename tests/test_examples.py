import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["springs", "charged", "kuramoto", "nri_mpm"])
def test_system_examples_offer_the_paper_setting(name):
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--paper" in result.stdout and "--resume" in result.stdout


def test_custom_model_data_and_forward_pass():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import custom_model
    finally:
        sys.path.pop(0)
    import torch
    from torch_geometric.loader import DataLoader

    generator = torch.Generator().manual_seed(1)
    data = [custom_model.make_system(generator=generator) for _ in range(8)]
    batch = next(iter(DataLoader(data, batch_size=8)))
    # The hidden edges are a subset of the kNN candidates and drive the signals.
    assert batch.edge_type.float().mean().item() == pytest.approx(0.5, abs=0.1)
    assert not torch.allclose(batch.x[:, -1], batch.x[:, 0])
    model = custom_model.RelationalForecaster(num_steps=16, num_features=2, hidden=8).eval()
    edge_logits, predictions = model(batch.x, batch.edge_index)
    assert edge_logits.shape == (batch.edge_index.size(1), 2)
    assert predictions.shape == (batch.num_nodes, 15, 2)


def test_quick_runs_train_the_demo_s_recipe():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import _common
    finally:
        sys.path.pop(0)
    from torch_nri.training.demo import DEMO_SETTINGS

    # Everything but the system itself: batch, widths, schedule, data sizes.
    assert _common.QUICK == {key: value for key, value in DEMO_SETTINGS.items()
                             if key not in ("system", "num_nodes", "skip_first",
                                            "position_features")}

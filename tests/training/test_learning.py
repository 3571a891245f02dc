import pytest

from torch_nri.training import TrainConfig, train


@pytest.mark.slow
def test_short_run_finds_edges_and_beats_the_static_baseline(tmp_path):
    # Small springs-5 data, a small model, "no edge" as type 0 (the demo's recipe).
    config = TrainConfig(num_train=1000, num_valid=100, num_test=100, encoder_hidden=32,
                         decoder_hidden=32, batch_size=32, lr=1e-3, skip_first=True,
                         epochs=25, out=str(tmp_path / "run"), data_root=str(tmp_path / "data"),
                         progress=False)
    results = train(config)
    # Chance is 0.5 (std ~1.1% on these 2,000 test edges). Whether a run this
    # short leaves the plateau depends on the initial draw: seeds 0, 1, 2, 3, 4
    # and 42 reached 0.72, 0.55, 0.54, 0.66, 0.64 and 0.56 (torch_nri 0.2.0), all
    # above chance, and every one predicted better than the static baseline.
    assert results["accuracy"] > 0.53
    for step in (0, 9, 19):
        assert results["mse"][step] < 0.5 * results["mse_static"][step]

import pytest

from torch_nri.training import TrainConfig, train


@pytest.mark.slow
def test_short_runs_find_edges_and_beat_the_static_baseline(tmp_path):
    # Small springs-5 data, a small model, "no edge" as type 0 (the demo's
    # recipe), two seeds, the CPU and one thread (reductions, and so results,
    # depend on the device and the thread count). Chance is 0.5 (std ~1.1%
    # on these 2,000 test edges).
    # Whether a run this short leaves the plateau depends on the initial
    # draw: seeds 0, 1 and 42 reached 0.78, 0.64 and 0.53 here (torch_nri
    # after the factorised encoder layer), so each seed must beat chance and
    # one of the two must have clearly left it; every run predicts better
    # than the static baseline.
    accuracies = []
    for seed in (42, 1):
        config = TrainConfig(num_train=1000, num_valid=100, num_test=100, encoder_hidden=32,
                             decoder_hidden=32, batch_size=32, lr=1e-3, skip_first=True,
                             epochs=25, seed=seed, threads=1, device="cpu",
                             out=str(tmp_path / f"run{seed}"),
                             data_root=str(tmp_path / "data"), progress=False)
        results = train(config)
        accuracies.append(results["accuracy"])
        for step in (0, 9, 19):
            assert results["mse"][step] < 0.5 * results["mse_static"][step]
    assert min(accuracies) > 0.52 and max(accuracies) > 0.6, accuracies

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from torch_nri.models import NRI, FixedGraphModel, SupervisedEncoder, load_model
from torch_nri.training import TrainConfig, evaluate_run, train

# On the CPU on any machine: a seed repeats a CPU run bit for bit (on CUDA
# only with deterministic=True), and these tests compare runs number for number.
TINY = dict(num_train=64, num_valid=16, num_test=16, encoder_hidden=16, decoder_hidden=16,
            batch_size=16, progress=False, threads=1, device="cpu")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def test_resume_equals_an_uninterrupted_run(tmp_path, data_root):
    whole = TrainConfig(epochs=3, out=str(tmp_path / "whole"), data_root=data_root, **TINY)
    train(whole)
    parts = TrainConfig(epochs=1, out=str(tmp_path / "parts"), data_root=data_root, **TINY)
    train(parts)
    resumed = TrainConfig(epochs=3, out=str(tmp_path / "parts"), data_root=data_root, **TINY)
    train(resumed, resume=True)
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "parts" / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert [r["valid_mse"] for r in a["history"]] == [r["valid_mse"] for r in b["history"]]
    log = open(tmp_path / "parts" / "log.csv").read().splitlines()
    assert len(log) == 4 and log[0].startswith("epoch,lr")


def test_run_directory_and_load(tmp_path, data_root):
    config = TrainConfig(epochs=2, out=str(tmp_path), data_root=data_root, **TINY)
    results = train(config)
    for name in ("config.json", "stats.json", "best.pt", "last.pt", "log.csv", "results.json",
                 "curves.png", "trajectories.png", "graph.png"):
        assert os.path.getsize(tmp_path / name) > 0, name
    assert len(results["mse"]) == 20 and 0 <= results["accuracy"] <= 1
    model = NRI.load(str(tmp_path / "best.pt"))  # no arguments repeated
    assert model.encoder.in_channels == 49 * 4 and model.decoder.in_channels == 4
    assert TrainConfig.load(str(tmp_path)).epochs == 2
    again = evaluate_run(str(tmp_path), device="cpu")
    assert again["accuracy"] == results["accuracy"]


def test_rnn_decoder_and_cnn_encoder_train(tmp_path, data_root):
    config = TrainConfig(epochs=1, encoder="cnn", decoder="rnn", skip_first=True,
                         prior=[0.9, 0.1], dynamic_graph=True, out=str(tmp_path),
                         data_root=data_root, **TINY)
    results = train(config)
    assert np.isfinite(results["mse"]).all()


def test_corrupted_or_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*best.pt"):
        NRI.load(str(tmp_path / "best.pt"))
    (tmp_path / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupted or not a torch file"):
        NRI.load(str(tmp_path / "best.pt"))
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no 'model_config' and 'model' entries"):
        NRI.load(str(tmp_path / "other.pt"))
    with pytest.raises(FileNotFoundError, match="no run in"):
        TrainConfig.load(str(tmp_path / "nowhere"))


def test_memory_options_and_autocast(tmp_path, data_root):
    def run(name, **options):
        config = TrainConfig(epochs=1, out=str(tmp_path / name), data_root=data_root,
                             **TINY, **options)
        train(config)
        return torch.load(tmp_path / name / "last.pt", weights_only=False)

    plain = run("plain")
    checkpointed = run("checkpointed", checkpoint=True, checkpoint_chunk_size=50)
    bf16 = run("bf16", precision="bf16")
    # Checkpointing recomputes, it does not change the training.
    for key in plain["model"]:
        assert torch.allclose(plain["model"][key], checkpointed["model"][key], atol=1e-5), key
    decoder = NRI.load(str(tmp_path / "checkpointed" / "last.pt")).decoder
    assert decoder.checkpoint and decoder.checkpoint_chunk_size == 50
    # bf16 autocast changes the arithmetic, not the outcome of one epoch.
    nll, nll_bf16 = plain["history"][0]["train_nll"], bf16["history"][0]["train_nll"]
    assert nll != nll_bf16 and abs(nll - nll_bf16) < 0.05 * abs(nll)
    assert "scaler" in bf16


@pytest.mark.parametrize("options", [
    dict(encoder="ri", decoder="st", symmetry_weight=100.0),
    dict(encoder="ri", decoder="st", sequence_model="attention", intra=False,
         inter_scope="neighbourhood", hard_symmetry=True)])
def test_nri_mpm_trains(tmp_path, data_root, options):
    results = train(TrainConfig(epochs=1, out=str(tmp_path), data_root=data_root, **TINY,
                                **options))
    assert np.isfinite(results["mse"]).all() and 0 <= results["accuracy"] <= 1
    model = NRI.load(str(tmp_path / "best.pt"))
    assert type(model.encoder).__name__ == "RIEncoder"
    assert model.encoder.intra == options.get("intra", True)
    assert model.encoder.inter_scope == options.get("inter_scope", "graph")
    assert type(model.decoder).__name__ == "STDecoder"
    if options.get("hard_symmetry"):
        assert results["asymmetry"] == 0.0  # tied pairs cannot disagree
    else:
        assert 0.0 <= results["asymmetry"] <= 1.0


def test_supervised_encoder_is_trained_on_relations_and_kept_by_accuracy(tmp_path, data_root):
    results = train(TrainConfig(model="supervised", encoder="cnn", dropout=0.5, epochs=3,
                                out=str(tmp_path), data_root=data_root, **TINY))
    assert "mse" not in results and 0 <= results["accuracy"] <= 1
    model = load_model(str(tmp_path / "best.pt"))
    assert isinstance(model, SupervisedEncoder) and model.encoder.dropout == 0.5
    history = torch.load(tmp_path / "last.pt", weights_only=False)["history"]
    best_epoch = max(history, key=lambda row: row["valid_accuracy"])["epoch"]
    assert torch.load(tmp_path / "best.pt", weights_only=False)["epoch"] == best_epoch
    assert all(np.isnan(row["valid_mse"]) for row in history)
    assert (tmp_path / "graph.png").exists() and not (tmp_path / "trajectories.png").exists()


@pytest.mark.parametrize("model", ["full-graph", "true-graph"])
def test_decoder_alone_on_a_given_graph(tmp_path, data_root, model):
    results = train(TrainConfig(model=model, epochs=1, out=str(tmp_path), data_root=data_root,
                                **TINY))
    assert "accuracy" not in results and np.isfinite(results["mse"]).all()
    loaded = load_model(str(tmp_path / "best.pt"))
    assert isinstance(loaded, FixedGraphModel)
    assert loaded.decoder.num_edge_types == (1 if model == "full-graph" else 2)
    row = torch.load(tmp_path / "last.pt", weights_only=False)["history"][0]
    assert row["train_kl"] == 0 and np.isnan(row["train_accuracy"])
    assert evaluate_run(str(tmp_path), device="cpu")["mse"] == results["mse"]


def test_nri_with_the_springs_simulator_as_decoder(tmp_path, data_root):
    results = train(TrainConfig(decoder="sim", epochs=1, out=str(tmp_path),
                                data_root=data_root, **TINY))
    model = load_model(str(tmp_path / "best.pt"))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert list(model.decoder.position_range) == [stats["minimum"][0], stats["maximum"][0]]
    assert sum(p.numel() for p in model.decoder.parameters()) == 0  # physics, not learned
    assert 0 <= results["accuracy"] <= 1 and np.isfinite(results["mse"]).all()


def test_a_temperature_schedule_anneals_tau_and_resumes_exactly(tmp_path, data_root):
    from torch_nri.training.loop import temperature

    schedule = TrainConfig(tau=1.0, tau_final=0.25, epochs=3)
    assert [temperature(schedule, e) for e in range(3)] == pytest.approx([1.0, 0.5, 0.25])
    assert temperature(TrainConfig(tau=0.7), 5) == 0.7

    def history(name, epochs, resume=False, **options):
        config = TrainConfig(epochs=epochs, tau=1.0, out=str(tmp_path / name),
                             data_root=data_root, **options, **TINY)
        train(config, resume=resume)
        return torch.load(tmp_path / name / "last.pt", weights_only=False)["history"]

    annealed = history("annealed", 2, tau_final=0.25)
    constant = history("constant", 2)
    # The same first epoch at tau = 1; the second at 0.25 against 1.
    assert annealed[0]["train_nll"] == constant[0]["train_nll"]
    assert annealed[1]["train_nll"] != constant[1]["train_nll"]
    # Interrupted after one epoch (the time budget), then resumed: the
    # schedule follows the epoch.
    assert len(history("parts", 2, tau_final=0.25, max_seconds=1e-3)) == 1
    resumed = history("parts", 2, resume=True, tau_final=0.25)
    assert [r["valid_mse"] for r in resumed] == [r["valid_mse"] for r in annealed]
    with pytest.raises(ValueError, match="'tau_final' anneals .* model='supervised'"):
        TrainConfig(model="supervised", tau_final=0.1)


def test_dnri_trains_and_tests_on_a_system_with_static_relations(tmp_path, data_root):
    # Its graph of each step is scored against the one true graph.
    results = train(TrainConfig(model="dnri", epochs=1, out=str(tmp_path),
                                data_root=data_root, **TINY))
    assert 0 <= results["accuracy"] <= 1 and np.isfinite(results["mse"]).all()


def test_a_learning_rate_warm_up_rises_linearly_then_decays_and_resumes(tmp_path, data_root):
    def history(name, resume=False, **options):
        config = TrainConfig(epochs=4, lr=1e-3, warmup_epochs=2, lr_decay=3, gamma=0.5,
                             out=str(tmp_path / name), data_root=data_root, **options, **TINY)
        train(config, resume=resume)
        return torch.load(tmp_path / name / "last.pt", weights_only=False)["history"]

    whole = history("whole")
    assert [row["lr"] for row in whole] == pytest.approx([5e-4, 1e-3, 1e-3, 5e-4])
    assert len(history("parts", max_seconds=1e-3)) == 1  # interrupted after one epoch
    resumed = history("parts", resume=True)
    assert [r["valid_mse"] for r in resumed] == [r["valid_mse"] for r in whole]


def test_time_budget_ends_training(tmp_path, data_root):
    train(TrainConfig(epochs=50, max_seconds=1e-3, out=str(tmp_path), data_root=data_root,
                      **TINY))
    assert torch.load(tmp_path / "last.pt", weights_only=False)["epoch"] == 1


def test_config_errors():
    with pytest.raises(ValueError, match="'model' must be one of"):
        TrainConfig(model="lstm")
    with pytest.raises(ValueError, match="springs simulator"):
        TrainConfig(decoder="sim", system="charged")
    with pytest.raises(ValueError, match="'skip_first' cannot be set"):
        TrainConfig(model="full-graph", skip_first=True)
    with pytest.raises(ValueError, match="'max_seconds' must be positive"):
        TrainConfig(max_seconds=0)
    with pytest.raises(ValueError, match="'batch_norm=False' is an option of the mlp, ri and dnri"):
        TrainConfig(encoder="cnn", batch_norm=False)
    with pytest.raises(ValueError, match="'skip_no_edges=True' is an option of the mlp and "
                                         "rnn decoders"):
        TrainConfig(decoder="st", skip_no_edges=True)
    with pytest.raises(ValueError, match="'precision' must be one of"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="'decoder' must be one of"):
        TrainConfig(decoder="gru")
    with pytest.raises(ValueError, match=r"'prior' must have one probability per edge type"):
        TrainConfig(prior=[0.5, 0.25, 0.25])


def test_cli_trains_and_evaluates_end_to_end(tmp_path, data_root):
    run_dir = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "torch_nri"]
    train_out = subprocess.run(
        cmd + ["train", "--epochs", "1", "--max-seconds", "600", "--num-train", "64",
               "--num-valid", "16", "--num-test", "16", "--encoder-hidden", "16",
               "--decoder-hidden", "16", "--batch-size", "16", "--data-root", data_root,
               "--out", run_dir, "--no-progress"],
        capture_output=True, text=True)
    assert train_out.returncode == 0, train_out.stderr
    assert "edge accuracy" in train_out.stdout and "MSE 20 steps" in train_out.stdout
    result = subprocess.run(cmd + ["evaluate", run_dir, "--json"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) >= {"accuracy", "mse"} and len(metrics["mse"]) == 20
    # Raw trajectories the run never saw, normalised with the run's statistics.
    from torch_nri.simulations import simulate_springs
    sim = simulate_springs(6, length=10000, seed=123)
    path = str(tmp_path / "new.npz")
    np.savez(path, x=sim.features, edges=sim.relations)
    result = subprocess.run(cmd + ["evaluate", run_dir, "--data", path, "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["mse"]) == 20
    missing = subprocess.run(cmd + ["evaluate", str(tmp_path / "none")], capture_output=True,
                             text=True)
    assert missing.returncode == 2 and "no run in" in missing.stderr


def test_compiled_training_steps_agree_with_eager_ones(tmp_path, data_root):
    import torch._inductor.config as inductor_config

    states = {}
    # Eager's random numbers in compiled code, so the Gumbel noise is the same.
    with inductor_config.patch(fallback_random=True):
        for name, compiled in (("eager", False), ("compiled", True)):
            config = TrainConfig(epochs=1, compile=compiled, prediction_steps=2,
                                 out=str(tmp_path / name), data_root=data_root, **TINY)
            train(config)
            states[name] = torch.load(tmp_path / name / "last.pt", weights_only=False)
    assert states["compiled"]["train_config"]["compile"]
    for key, value in states["eager"]["model"].items():
        assert torch.allclose(states["compiled"]["model"][key], value, atol=1e-4), key
    eager, compiled = (states[n]["history"][0] for n in ("eager", "compiled"))
    assert compiled["train_nll"] == pytest.approx(eager["train_nll"], rel=1e-4)


def test_resume_refuses_other_settings_and_clears_killed_writes(tmp_path, data_root, capsys):
    out = str(tmp_path / "run")
    train(TrainConfig(epochs=1, out=out, data_root=data_root, **TINY))
    with pytest.raises(ValueError, match=r"cannot resume the run in .* \(tau: saved 0.5, "
                                         r"given 0.7; lr: saved 0.0005, given 0.01\)"):
        train(TrainConfig(epochs=2, lr=0.01, tau=0.7, out=out, data_root=data_root, **TINY),
              resume=True)
    # A write killed before its rename left a temporary; the next run removes it.
    (tmp_path / "run" / ".tmp-1234last.pt").write_bytes(b"half")
    results = train(TrainConfig(epochs=2, max_seconds=600.0, out=out, data_root=data_root,
                                **TINY), resume=True)
    assert results["epochs"] == 2
    assert not [name for name in os.listdir(out) if name.startswith(".tmp-")]
    fresh = str(tmp_path / "fresh")
    train(TrainConfig(epochs=1, out=fresh, data_root=data_root, **TINY), resume=True)
    assert "no checkpoint" in capsys.readouterr().err and os.path.isfile(f"{fresh}/last.pt")


def test_a_run_killed_by_sigkill_resumes_to_the_uninterrupted_result(tmp_path, data_root):
    import signal
    import time

    options = dict(epochs=3, data_root=data_root, **TINY)
    train(TrainConfig(out=str(tmp_path / "whole"), **options))
    killed = tmp_path / "killed"
    script = ("import json, sys\nfrom torch_nri.training import TrainConfig, train\n"
              "train(TrainConfig(**json.loads(sys.argv[1])))")
    process = subprocess.Popen([sys.executable, "-c", script,
                                json.dumps(dict(out=str(killed), **options))])
    try:  # killed as soon as the first epoch's checkpoint exists: in the second epoch
        for _ in range(6000):
            if (killed / "last.pt").exists() or process.poll() is not None:
                break
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert torch.load(killed / "last.pt", weights_only=False)["epoch"] < 3  # killed mid-run
    train(TrainConfig(out=str(killed), **options), resume=True)
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)
    b = torch.load(killed / "last.pt", weights_only=False)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert [r["valid_mse"] for r in a["history"]] == [r["valid_mse"] for r in b["history"]]
    assert not [name for name in os.listdir(killed) if name.startswith(".tmp-")]


def test_deterministic_algorithms_are_on_for_the_run_and_restored_after(tmp_path, data_root,
                                                                        monkeypatch):
    from torch_nri.cli import build_parser
    from torch_nri.training import loop

    seen = []

    def recording(function):
        def recorded(*args, **kwargs):
            seen.append(torch.are_deterministic_algorithms_enabled())
            return function(*args, **kwargs)
        return recorded

    monkeypatch.setattr(loop, "_run_epoch", recording(loop._run_epoch))
    monkeypatch.setattr(loop, "evaluate_run", recording(loop.evaluate_run))
    out = str(tmp_path / "run")
    train(TrainConfig(epochs=1, out=out, data_root=data_root, **TINY))
    assert seen == [False] * 3  # training, validation, test
    # A setting a resumed run may change; the test evaluation runs under it too.
    train(TrainConfig(epochs=2, deterministic=True, out=out, data_root=data_root, **TINY),
          resume=True)
    assert seen[3:] == [True] * 3 and not torch.are_deterministic_algorithms_enabled()
    assert torch.load(os.path.join(out, "last.pt"), weights_only=False)["train_config"][
        "deterministic"]
    assert build_parser().parse_args(["train", "--deterministic"]).deterministic


def test_fresh_systems_train_each_epoch_on_new_ones_and_resume_exactly(tmp_path, data_root,
                                                                      monkeypatch):
    from torch_nri.datasets import SpringsDataset
    draws = []
    original = SpringsDataset.resimulated

    def recording(self, draw):
        draws.append(draw)
        return original(self, draw)

    monkeypatch.setattr(SpringsDataset, "resimulated", recording)

    def history(name, resume=False, **options):
        config = TrainConfig(epochs=3, out=str(tmp_path / name), data_root=data_root,
                             **options, **TINY)
        train(config, resume=resume)
        return torch.load(tmp_path / name / "last.pt", weights_only=False)["history"]

    fresh = history("fresh", fresh_systems=True)
    assert draws == [0, 1, 2]  # one draw per epoch; draw 0 is the cached split
    same = history("same")
    assert draws == [0, 1, 2]
    assert fresh[0]["train_nll"] == same[0]["train_nll"]
    assert fresh[1]["train_nll"] != same[1]["train_nll"]
    assert len(history("parts", fresh_systems=True, max_seconds=1e-3)) == 1
    resumed = history("parts", resume=True, fresh_systems=True)
    assert [r["valid_mse"] for r in resumed] == [r["valid_mse"] for r in fresh]
    with pytest.raises(ValueError, match="fresh_systems=True describe simulated data"):
        TrainConfig(data=str(tmp_path), fresh_systems=True)


def test_train_segments_decode_a_subset_in_training_and_every_step_in_validation(
        tmp_path, data_root, monkeypatch):
    from torch_nri.models import base
    calls = []
    original = base.decode

    def recording(decoder, x, edge_index, edges, decoder_kwargs):
        out = original(decoder, x, edge_index, edges, decoder_kwargs)
        calls.append((decoder.training, decoder_kwargs.get("segments"), out[0].size(1)))
        return out

    for module in ("nri", "fixed_graph"):
        monkeypatch.setattr(f"torch_nri.models.{module}.decode", recording)
    for model in ("nri", "true-graph"):
        calls.clear()
        train(TrainConfig(model=model, epochs=1, train_segments=2, out=str(tmp_path / model),
                          data_root=data_root, **TINY))
        # Training: 2 segments of 10 steps of the 49; validation and test: all 48.
        assert {call for call in calls if call[0]} == {(True, 2, 20)}
        assert {call[1:] for call in calls if not call[0]} == {(None, 48)}

import pytest
import torch

from torch_nri.device import is_device_name, resolve_device
from torch_nri.training import TrainConfig
from torch_nri.training.distributed import setup

def cuda(test):
    r"""Marks a test for CUDA (``pytest -m cuda``); it skips without a device."""
    return pytest.mark.cuda(pytest.mark.skipif(not torch.cuda.is_available(),
                                               reason="needs a CUDA device")(test))


def test_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert all(is_device_name(name) for name in ("auto", "cpu", "cuda", "cuda:1"))
    assert not any(is_device_name(name) for name in ("gpu", "cuda:", "cuda:x", "mps"))
    with pytest.raises(ValueError, match=r"'device' must be one of .*got 'gpu'"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match=r"'device' must be one of .*got 'gpu'"):
        TrainConfig(device="gpu")
    TrainConfig(device="cuda:3")  # the form is checked here, the machine where it runs


def test_auto_and_cuda_take_the_current_gpu_by_its_index(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    for name in ("auto", "cuda"):
        assert resolve_device(name) == torch.device("cuda", 1)
        assert setup(name).device == torch.device("cuda", 1)
    assert fake_cuda == [torch.device("cuda", 1)] * 2  # set with its index: no ValueError


def test_a_numbered_gpu_is_taken_when_the_machine_has_it(fake_cuda):
    assert setup("cuda:1").device == torch.device("cuda", 1)
    assert fake_cuda == [torch.device("cuda", 1)]
    with pytest.raises(ValueError, match=r"device='cuda:2', but this machine has 2 CUDA "
                                         r"devices \(cuda:0..cuda:1\)"):
        setup("cuda:2")
    assert len(fake_cuda) == 1


def test_auto_without_cuda_stays_on_the_cpu(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert setup("auto").device == torch.device("cpu") and fake_cuda == []


def test_apple_mps_is_refused_with_the_reason(capsys):
    from torch_nri.baselines import check_baseline_options
    from torch_nri.cli import main

    reason = r"device='mps': Apple's MPS is not supported \(untested, and .* float64, .*\); " \
             r"use --device cpu"
    for check in (resolve_device, lambda name: TrainConfig(device=name),
                  lambda name: check_baseline_options(device=name)):
        with pytest.raises(ValueError, match=reason):
            check("mps")
    assert main(["demo", "--device", "mps:0"]) == 2
    assert "Apple's MPS is not supported" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_a_clear_error():
    with pytest.raises(ValueError, match=r"device='cuda', but CUDA is not available here "
                                         r"\(torch .*\); use --device cpu or auto"):
        resolve_device("cuda")


@cuda
def test_a_cuda_device_beyond_the_machine_s_is_refused():
    count = torch.cuda.device_count()
    with pytest.raises(ValueError, match=f"this machine has {count} CUDA device"):
        resolve_device(f"cuda:{count}")


@cuda
def test_training_and_evaluation_on_cuda(tmp_path):
    from torch_nri.training import evaluate_run, train

    config = TrainConfig(device="cuda", num_train=32, num_valid=8, num_test=8,
                         encoder_hidden=8, decoder_hidden=8, batch_size=16, epochs=1,
                         progress=False, out=str(tmp_path / "run"),
                         data_root=str(tmp_path / "data"))
    results = train(config)
    again = evaluate_run(config.out, device="cpu")  # the checkpoint loads on any device
    assert again["accuracy"] == pytest.approx(results["accuracy"], abs=0.05)


def test_deterministic_sets_the_cublas_workspace_on_cuda_unless_given(fake_cuda,
                                                                      monkeypatch):
    import os

    from torch_nri.training.loop import _deterministic

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    previous = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(False, warn_only=True)
    try:
        with _deterministic("auto"):
            assert torch.are_deterministic_algorithms_enabled()
            assert not torch.is_deterministic_algorithms_warn_only_enabled()
            assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()  # as it was
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
        with _deterministic("cpu"):  # the CPU does not read it
            assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # the user's own
        with pytest.raises(RuntimeError), _deterministic("cuda"):
            assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
            raise RuntimeError  # restored after an error too
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False, warn_only=previous)


def test_reduced_precision_without_hardware_support_warns(monkeypatch):
    from torch_nri.device import native_precision, warn_if_emulated

    cpu = torch.device("cpu")
    assert native_precision("fp32", cpu)
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported",
                 "_is_amx_fp16_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False)
    assert not native_precision("bf16", cpu) and not native_precision("fp16", cpu)
    with pytest.warns(UserWarning, match=r"precision='bf16': this CPU .* has no bf16 "
                                         r"matrix-multiply instructions.*use precision 'fp32'"):
        warn_if_emulated("bf16", cpu)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert native_precision("bf16", cpu)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_emulated("bf16", cpu)  # native: silent
        warn_if_emulated("fp32", cpu)


@cuda
def test_the_fast_path_on_cuda_gives_the_cpu_batches(tmp_path):
    from torch_geometric.loader import DataLoader

    from torch_nri.datasets import SpringsDataset
    from torch_nri.training.batching import FixedSizeLoader

    dataset = SpringsDataset(str(tmp_path), num_train=20, num_valid=4, num_test=4, length=500)
    for expected, got in zip(DataLoader(dataset, batch_size=8),
                             FixedSizeLoader(dataset, 8, device="cuda")):
        assert got.x.is_cuda and got.edge_index.is_cuda
        for key in ("x", "edge_index", "batch", "edge_type"):
            assert torch.equal(getattr(expected, key), getattr(got, key).cpu()), key


@cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_and_compiled_training_on_cuda(tmp_path, precision):
    from torch_nri.training import train

    config = TrainConfig(device="cuda", precision=precision, compile=True, num_train=32,
                         num_valid=8, num_test=8, encoder_hidden=8, decoder_hidden=8,
                         batch_size=16, epochs=2, progress=False, out=str(tmp_path / "run"),
                         data_root=str(tmp_path / "data"))
    results = train(config)
    assert 0 <= results["accuracy"] <= 1 and all(v == v for v in results["mse"])


@cuda
def test_deterministic_cuda_runs_repeat_bit_for_bit(tmp_path):
    from torch_nri.training import train

    options = dict(device="cuda", deterministic=True, num_train=32, num_valid=8, num_test=8,
                   encoder_hidden=8, decoder_hidden=8, batch_size=16, epochs=2,
                   progress=False, data_root=str(tmp_path / "data"))
    results = [train(TrainConfig(**options, out=str(tmp_path / name))) for name in "ab"]
    a, b = (torch.load(tmp_path / name / "last.pt", weights_only=False) for name in "ab")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert results[0]["mse"] == results[1]["mse"]


@cuda
@pytest.mark.parametrize("name", ["lstm-single", "lstm-correlation"])
def test_the_lstm_baselines_run_on_cuda(tmp_path, name):
    from torch_nri.baselines import run_baseline
    from torch_nri.training import build_datasets

    splits = build_datasets(TrainConfig(num_train=16, num_valid=8, num_test=8,
                                        data_root=str(tmp_path)))
    results = run_baseline(name, splits, hidden=8, epochs=1, device="cuda")
    assert results["num_examples"] == 8

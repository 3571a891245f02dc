"""Training under torch.distributed (gloo, 2 processes spawned by the test),
against one process on the same global batch; the set-up under torchrun
with torch.distributed and CUDA mocked."""
import csv
import os
import shutil
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from torch_nri.training import TrainConfig, train
from torch_nri.training.distributed import (DATA_TIMEOUT, barrier, setup,
                                            wait_for_data)

# On the CPU (gloo) on any machine: runs compared number for number.
TINY = dict(num_train=8, num_valid=4, num_test=4, encoder_hidden=8, decoder_hidden=8,
            batch_norm=False, progress=False, threads=1, device="cpu")


def deterministic_gumbel_softmax(logits, tau=1.0, hard=False, dim=-1):
    # Without noise: one process and two draw the same "samples", so their
    # runs can be compared number for number.
    soft = torch.softmax(logits / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    return torch.zeros_like(soft).scatter_(dim, index, 1.0) - soft.detach() + soft


def forbidden(*args, **kwargs):
    raise AssertionError("only rank 0 writes files")


def worker(rank, world_size, port, config, resume):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    F.gumbel_softmax = deterministic_gumbel_softmax
    if rank != 0:
        from torch_nri.training import RunDirectory, loop
        for name in [name for name in vars(RunDirectory) if name.startswith("write_")]:
            setattr(RunDirectory, name, forbidden)
        loop.plot_curves = forbidden
    try:
        train(TrainConfig(**config), resume=resume)
    finally:
        torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_distributed(config, resume=False):
    mp.spawn(worker, args=(2, free_port(), config, resume), nprocs=2, join=True)


def load(run_dir):
    return torch.load(os.path.join(run_dir, "last.pt"), weights_only=False)


def log_rows(run_dir):
    with open(os.path.join(run_dir, "log.csv")) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    data = str(root / "data")
    single = dict(TINY, data_root=data, epochs=1, batch_size=8, out=str(root / "single"))
    original = F.gumbel_softmax
    F.gumbel_softmax = deterministic_gumbel_softmax
    try:
        train(TrainConfig(**single))
    finally:
        F.gumbel_softmax = original
    # Two processes with 4 systems each: the same global batch of 8.
    run_distributed(dict(single, batch_size=4, out=str(root / "two")))
    return root


@pytest.mark.slow
def test_two_processes_take_the_same_step_as_one(runs):
    one, two = load(runs / "single"), load(runs / "two")
    assert two["epoch"] == 1
    for key, value in one["model"].items():
        assert torch.allclose(value, two["model"][key], atol=1e-6), key


@pytest.mark.slow
def test_metrics_are_reduced_over_the_processes(runs):
    one, two = log_rows(runs / "single")[0], log_rows(runs / "two")[0]
    for key in ("train_nll", "train_kl", "train_mse", "train_accuracy", "valid_nll",
                "valid_mse", "valid_accuracy"):
        assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-5, abs=1e-7), key
    import json
    a = json.load(open(runs / "single" / "results.json"))
    b = json.load(open(runs / "two" / "results.json"))
    assert b["num_examples"] == a["num_examples"] == 4
    assert b["accuracy"] == a["accuracy"]
    assert b["mse"] == pytest.approx(a["mse"], rel=1e-4)


@pytest.mark.slow
def test_a_distributed_run_resumes(runs):
    base = dict(TINY, data_root=str(runs / "data"), batch_size=4)
    run_distributed(dict(base, epochs=2, out=str(runs / "whole")))
    shutil.copytree(runs / "two", runs / "resumed")
    run_distributed(dict(base, epochs=2, out=str(runs / "resumed")), resume=True)
    whole, resumed = load(runs / "whole"), load(runs / "resumed")
    assert whole["epoch"] == resumed["epoch"] == 2
    for key, value in whole["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert len(log_rows(runs / "resumed")) == 2


@pytest.mark.slow
def test_dnri_takes_the_same_step_under_two_processes(tmp_path):
    single = dict(TINY, model="dnri", system="proximity", num_nodes=3, epochs=1, batch_size=8,
                  data_root=str(tmp_path / "data"), out=str(tmp_path / "single"))
    original = F.gumbel_softmax
    F.gumbel_softmax = deterministic_gumbel_softmax
    try:
        train(TrainConfig(**single))
    finally:
        F.gumbel_softmax = original
    run_distributed(dict(single, batch_size=4, out=str(tmp_path / "two")))
    one, two = load(tmp_path / "single"), load(tmp_path / "two")
    for key, value in one["model"].items():
        assert torch.allclose(value, two["model"][key], atol=1e-6), key


@pytest.fixture
def fake_torchrun(fake_cuda, monkeypatch):
    """Rank 1 of 2 under torchrun (LOCAL_RANK 1) on a machine with two GPUs
    (``fake_cuda``), torch.distributed's set-up and barriers recorded instead
    of run."""
    calls = {"set_device": fake_cuda, "barrier": []}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")

    def new_group(**kwargs):
        calls["new_group"] = kwargs
        return "data group"

    monkeypatch.setattr(dist, "is_initialized", lambda: "init" in calls)
    monkeypatch.setattr(dist, "init_process_group", lambda **kwargs: calls.update(init=kwargs))
    monkeypatch.setattr(dist, "new_group", new_group)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "barrier", lambda **kwargs: calls["barrier"].append(kwargs))
    return calls


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_torchrun_gives_each_process_its_local_gpu_and_nccl(fake_torchrun, device):
    ctx = setup(device)
    assert (ctx.rank, ctx.world_size, ctx.device) == (1, 2, torch.device("cuda", 1))
    assert fake_torchrun["set_device"] == [torch.device("cuda", 1)]
    assert fake_torchrun["init"] == {"backend": "nccl"}
    # The wait for the data has a gloo group of its own, with a long timeout;
    # the training collectives stay on the main group and its default timeout.
    assert fake_torchrun["new_group"] == {"backend": "gloo", "timeout": DATA_TIMEOUT}
    assert DATA_TIMEOUT.total_seconds() >= 3600
    wait_for_data(ctx)
    barrier(ctx)
    assert fake_torchrun["barrier"] == [{"group": "data group"}, {}]


def test_torchrun_on_the_cpu_uses_gloo(fake_torchrun, monkeypatch):
    assert setup("cpu").device == torch.device("cpu")
    assert fake_torchrun["init"] == {"backend": "gloo"} and fake_torchrun["set_device"] == []
    del fake_torchrun["init"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup("auto").device == torch.device("cpu")
    assert fake_torchrun["init"] == {"backend": "gloo"}
    assert fake_torchrun["new_group"] == {"backend": "gloo", "timeout": DATA_TIMEOUT}


def test_torchrun_refuses_a_numbered_gpu_and_a_local_rank_beyond_the_gpus(fake_torchrun,
                                                                          monkeypatch):
    with pytest.raises(ValueError, match=r"device='cuda:1' under torchrun \(WORLD_SIZE=2\): "
                                         r"each process takes cuda:LOCAL_RANK; give --device "
                                         r"cuda or auto"):
        setup("cuda:1")
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(ValueError, match=r"LOCAL_RANK=2, but this machine has 2 CUDA devices "
                                         r".*torchrun --nproc-per-node 2"):
        setup("cuda")
    monkeypatch.setenv("LOCAL_RANK", "one")
    with pytest.raises(ValueError, match=r"LOCAL_RANK='one' in the environment must be an "
                                         r"integer"):
        setup("auto")
    assert "init" not in fake_torchrun and fake_torchrun["set_device"] == []

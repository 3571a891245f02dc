"""MLPBlock's batch statistics of a batch run in chunks: in float32 under
autocast, and over the global batch under SyncBatchNorm (two gloo processes
spawned by the test)."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from torch_nri.nn import MLPBlock


def test_chunk_statistics_are_float32_under_bf16_autocast():
    block = MLPBlock(6, 8, 5).train()
    x = torch.randn(1000, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rows = block.before_norm(block.lin1(x))
        assert rows.dtype == torch.bfloat16
        moments = [MLPBlock.chunk_moments(part) for part in rows.split(300)]
        mean, var = block.batch_statistics(moments)
    assert all(m.dtype == torch.float32 for m in moments) and mean.dtype == torch.float32
    assert torch.equal(torch.stack(moments)[:, 0, 0], torch.tensor([300.0, 300, 300, 100]))
    assert torch.allclose(mean, rows.float().mean(0), atol=1e-5)
    assert torch.allclose(var, rows.float().var(0, unbiased=False), atol=1e-5)
    assert block.norm.running_mean.dtype == torch.float32  # updated without a dtype clash


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, port, rows, state, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        block = MLPBlock(6, 8, 5)
        block = torch.nn.SyncBatchNorm.convert_sync_batchnorm(block).train()
        block.load_state_dict(state)
        mine = rows[rank].requires_grad_()
        moments = [MLPBlock.chunk_moments(part) for part in mine.split(7)]
        mean, var = block.batch_statistics(moments)
        (grad,) = torch.autograd.grad((mean * var).sum(), mine)
        results[rank] = (mean.detach(), var.detach(), grad, block.norm.running_var.clone())
    finally:
        dist.destroy_process_group()


def test_chunk_statistics_span_every_process_under_sync_batch_norm():
    torch.manual_seed(0)
    block = MLPBlock(6, 8, 5).train()
    # Two processes with different numbers of rows, in chunks of 7.
    rows = [torch.randn(30, 5) + 3, torch.randn(17, 5)]
    whole = torch.cat(rows).requires_grad_()
    mean, var = block.batch_statistics([MLPBlock.chunk_moments(whole)])
    (grad,) = torch.autograd.grad((mean * var).sum(), whole)
    results = mp.Manager().dict()
    state = MLPBlock(6, 8, 5).state_dict()
    mp.spawn(_worker, args=(_free_port(), rows, state, results), nprocs=2, join=True)
    for rank, part in enumerate(grad.split([30, 17])):
        got_mean, got_var, got_grad, running_var = results[rank]
        assert torch.allclose(got_mean, mean, atol=1e-5)
        assert torch.allclose(got_var, var, atol=1e-5)
        # Gradients cross the processes: each one's is the sum over both
        # losses, as SyncBatchNorm's (DDP then averages the parameters').
        assert torch.allclose(got_grad, 2 * part, atol=1e-5)
        assert torch.allclose(running_var, block.norm.running_var, atol=1e-5)

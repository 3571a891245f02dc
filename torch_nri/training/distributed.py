r"""Where training runs: the device (:func:`resolve_device`), and
multi-process training with :mod:`torch.distributed`, as launched by
``torchrun``: the process group, data shards and metric reduction used by
:func:`~torch_nri.training.train`. Without ``torchrun`` (no ``WORLD_SIZE`` in
the environment) the distributed parts are no-ops on one process."""
import os
from dataclasses import dataclass
from typing import Any, List

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import Dataset, Subset

from torch_nri.device import resolve_device


@dataclass
class Context:
    r"""Where this process stands: its rank, the number of processes and
    its device."""
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        r"""Rank 0, the only process that writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Context:
    r"""The process's :class:`Context`: one process on ``device``
    (:func:`resolve_device`) without ``torchrun``; under ``torchrun``, joins
    the process group that the environment describes (``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), one
    GPU per process (``cuda:LOCAL_RANK``) with NCCL when ``device`` is CUDA,
    the CPU with gloo otherwise."""
    resolved = resolve_device(device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        return Context(device=resolved)
    use_cuda = resolved.type == "cuda"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), device)


def barrier(ctx: Context) -> None:
    r"""Waits for every process (a no-op on one process)."""
    if ctx.distributed:
        dist.barrier()


def shard(dataset: Dataset, ctx: Context) -> Dataset:
    r"""This process's share of an evaluation split: items ``rank``,
    ``rank + world_size``, ... Unlike :class:`~torch.utils.data.DistributedSampler`
    it repeats no item, so reduced metrics equal one process's."""
    if not ctx.distributed:
        return dataset
    return Subset(dataset, range(ctx.rank, len(dataset), ctx.world_size))


def all_reduce_sum(tensor: Tensor, ctx: Context) -> Tensor:
    r"""The sum of ``tensor`` over the processes (in place; returned)."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_list(items: List[Any], ctx: Context) -> List[Any]:
    r"""The concatenation of every process's ``items``, in rank order."""
    if not ctx.distributed:
        return items
    gathered: List[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]

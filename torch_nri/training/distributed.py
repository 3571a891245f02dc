r"""Where training runs: the device (:func:`resolve_device`), and
multi-process training with :mod:`torch.distributed`, as launched by
``torchrun``: the process group, data shards and metric reduction used by
:func:`~torch_nri.training.train`. Without ``torchrun`` (no ``WORLD_SIZE`` in
the environment) the distributed parts are no-ops on one process."""
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, List

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import Dataset, Subset

from torch_nri.device import check_device_name, resolve_device, uses_cuda

#: How long the other processes wait while rank 0 simulates and caches the
#: data (:func:`wait_for_data`). That wait runs on a gloo group of its own
#: with this timeout: on the main group, NCCL's default of 10 minutes would
#: end a run whose simulation takes longer (large or all-pairs systems, a
#: slow CPU). The training collectives keep the main group's default
#: timeout, so that a process that hangs in training is still found.
DATA_TIMEOUT = timedelta(hours=24)


@dataclass
class Context:
    r"""Where this process stands: its rank, the number of processes, its
    device (a CUDA device always with its index) and, under ``torchrun``,
    the gloo group of the wait for the data (:data:`DATA_TIMEOUT`)."""
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    data_group: Any = None

    @property
    def is_main(self) -> bool:
        r"""Rank 0, the only process that writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _environment_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} in the environment must be an integer (torchrun "
                         f"sets it)") from None


def setup(device: str = "auto") -> Context:
    r"""The process's :class:`Context`.

    Without ``torchrun`` (no ``WORLD_SIZE`` above 1 in the environment), one
    process on ``device`` (:func:`~torch_nri.device.resolve_device`), made
    the current CUDA device where it is one.

    Under ``torchrun``, joins the process group that the environment
    describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
    ``MASTER_PORT``): with ``device`` ``"cuda"``, or ``"auto"`` on a machine
    with CUDA, each process takes the GPU ``cuda:LOCAL_RANK`` and the
    backend is NCCL; otherwise every process runs on the CPU with gloo.
    ``"cuda:N"`` is refused there (one index cannot serve every process),
    as is a ``LOCAL_RANK`` beyond the machine's GPUs. A gloo group with a
    long timeout (:data:`DATA_TIMEOUT`) is made for :func:`wait_for_data`.

    Args:
        device (str, optional): ``"auto"``, ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"`` (:data:`~torch_nri.device.DEVICES`).
            (default: ``"auto"``)
    """
    world_size = _environment_int("WORLD_SIZE", 1)
    if world_size <= 1:
        resolved = resolve_device(device)
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        return Context(device=resolved)
    check_device_name(device)
    if device.startswith("cuda:"):
        raise ValueError(f"device={device!r} under torchrun (WORLD_SIZE={world_size}): each "
                         f"process takes cuda:LOCAL_RANK; give --device cuda or auto")
    use_cuda = uses_cuda(device)
    resolved = torch.device("cpu")
    if use_cuda:
        local_rank, count = _environment_int("LOCAL_RANK", 0), torch.cuda.device_count()
        if not 0 <= local_rank < count:
            raise ValueError(f"LOCAL_RANK={local_rank}, but this machine has {count} CUDA "
                             f"device{'s' if count != 1 else ''} (each process takes "
                             f"cuda:LOCAL_RANK): start at most {count} processes per "
                             f"machine (torchrun --nproc-per-node {count})")
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    data_group = dist.new_group(backend="gloo", timeout=DATA_TIMEOUT)
    return Context(dist.get_rank(), dist.get_world_size(), resolved, data_group)


def barrier(ctx: Context) -> None:
    r"""Waits for every process (a no-op on one process)."""
    if ctx.distributed:
        dist.barrier()


def wait_for_data(ctx: Context) -> None:
    r"""Waits for every process while rank 0 simulates and caches the data,
    on the gloo group of :data:`DATA_TIMEOUT` (a no-op on one process)."""
    if ctx.distributed:
        dist.barrier(group=ctx.data_group)


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

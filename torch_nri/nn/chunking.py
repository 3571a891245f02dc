r"""Chunked work, the one home of the memory options of every layer.

A layer of :mod:`torch_nri.nn` whose work grows with the number of candidate
edges (or of nodes) runs it in chunks of rows where the whole would not fit
in memory. Each layer says only how many bytes one row of its work takes;
:class:`Chunking` holds the options and does the rest:

- **the policy** (:meth:`Chunking.rows`): no chunks in training without
  ``checkpoint``; otherwise ``chunk_size`` rows, or as many as fit in
  ``memory`` bytes. Without gradients (evaluation and inference) the same
  budget applies whatever ``checkpoint`` says, so inference on
  :math:`10^5`-:math:`10^6` objects is memory-bounded with no option set;
  where one chunk would hold every row, the layer runs its unchunked code;
- **running the chunks** (:meth:`Chunking.run`): under
  :func:`torch.utils.checkpoint.checkpoint` while gradients are on (the
  chunk's activations are recomputed in the backward pass, so only its
  inputs and outputs are kept), plainly otherwise;
- **adding up per-edge outputs at their receivers**
  (:func:`sum_at_receivers`, :func:`mean_at_receivers`), in place, one chunk
  at a time;
- **dropout seeds** (:func:`step_seed`, :func:`seeded`): a chunk that runs in
  several passes (the batch statistics of :class:`~torch_nri.nn.MLPEncoder`,
  then its output) draws the same masks in each.
"""
import math
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint as run_checkpointed
from torch_geometric.utils import degree

from torch_nri._allocator import limit_mmap_threshold

#: The default ``checkpoint_memory``: 256 MiB of per-row tensors per chunk.
DEFAULT_CHECKPOINT_MEMORY = 256 * 2**20


@dataclass(frozen=True)
class Chunking:
    r"""How a layer runs its per-row work: the ``checkpoint``,
    ``checkpoint_chunk_size`` and ``checkpoint_memory`` arguments of every
    layer, checked here.

    Args:
        checkpoint (bool, optional): Chunks under activation checkpointing
            in training (without gradients, chunks run anyway, within
            ``memory``). (default: :obj:`False`)
        chunk_size (int, optional): Rows per chunk; wins over ``memory``.
            (default: :obj:`None`)
        memory (float, optional): The bytes of one chunk's per-row tensors,
            which set the chunk size from a layer's bytes per row.
            (default: :obj:`268435456`, 256 MiB)
    """
    checkpoint: bool = False
    chunk_size: Optional[int] = None
    memory: float = DEFAULT_CHECKPOINT_MEMORY

    def __post_init__(self) -> None:
        if (isinstance(self.memory, bool) or not isinstance(self.memory, Real)
                or not 0 < self.memory < math.inf):
            raise ValueError(f"'checkpoint_memory' must be a positive number of bytes "
                             f"(default: {DEFAULT_CHECKPOINT_MEMORY}, 256 MiB), got "
                             f"{self.memory!r}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"'checkpoint_chunk_size' must be at least 1, "
                             f"got {self.chunk_size}")

    def rows(self, num_rows: int, bytes_per_row: Callable[[], float]) -> Optional[int]:
        r"""The rows of one chunk of work of ``num_rows`` rows, or
        :obj:`None` where the work runs in one piece, unchunked:

        - with gradients: chunks only with ``checkpoint`` (checkpointed,
          even a single one, so that its activations are recomputed);
        - without gradients: chunks only where one would not hold every row.

        A chunk holds ``chunk_size`` rows, or as many as fit in ``memory``
        at ``bytes_per_row()`` bytes each (called only where it is needed),
        at least one."""
        checkpointed = self.checkpoint and torch.is_grad_enabled()
        if torch.is_grad_enabled() and not checkpointed:
            return None
        size = self.chunk_size or max(1, int(self.memory // max(bytes_per_row(), 1)))
        if checkpointed:
            return max(min(size, num_rows), 1)
        return None if size >= num_rows else size

    def run(self, fn: Callable[..., Any], chunks: Iterable[Sequence[Any]],
            *shared: Any) -> Iterator[Any]:
        r"""Yields ``fn(*shared, *chunk)`` for every chunk, each under
        :func:`torch.utils.checkpoint.checkpoint` while gradients are on,
        plainly otherwise. A generator, so that the caller can reduce each
        output before the next chunk runs. Dropout masks are replayed in the
        recomputation. The first checkpointed chunk of CPU tensors in a
        process sets glibc's mmap threshold, so that freed chunk buffers go
        back to the system (:func:`torch_nri._allocator.limit_mmap_threshold`;
        not while compiling: a C call breaks the compiled graph)."""
        if not torch.is_grad_enabled():
            for chunk in chunks:
                yield fn(*shared, *chunk)
            return
        if not torch.compiler.is_compiling() and any(
                isinstance(t, Tensor) and t.device.type == "cpu" for t in shared):
            limit_mmap_threshold()
        for chunk in chunks:
            yield run_checkpointed(fn, *shared, *chunk, use_reentrant=False)


def sum_at_receivers(parts: Iterable[Tuple[Tensor, Tensor]], num_nodes: int) -> Tensor:
    r"""The sum at their receivers of the per-edge outputs of chunks of
    edges, ``[N, ...]``, from pairs (``edge_index`` of the chunk ``[2, c]``,
    its output ``[c, ...]``): each chunk's output is added into one result
    in place as it comes (:meth:`torch.Tensor.index_put_` with
    ``accumulate=True``, whose backward pass keeps only the receivers, where
    ``index_add_`` would keep the chunk's output too), so that one chunk's
    per-edge output exists at a time. No chunk builds a node-sized partial
    (with :math:`E / c` chunks that would be :math:`O(N E / c)` work per
    step, which at :math:`10^5` objects outweighed the edges' own) and none
    needs its receivers' range read back to the host, so the edges may come
    in any order."""
    out: Optional[Tensor] = None
    for edge_index, part in parts:
        if out is None:
            out = part.new_zeros((num_nodes, *part.shape[1:]))
        out.index_put_((edge_index[1],), part, accumulate=True)
    assert out is not None, "no chunks"
    return out


def mean_at_receivers(parts: Iterable[Tuple[Tensor, Tensor]], receivers: Tensor,
                      num_nodes: int) -> Tensor:
    r"""The mean at their receivers of the per-edge outputs of chunks of
    edges (:func:`sum_at_receivers` divided by each node's in-degree among
    ``receivers``, every edge's; 0 for a node without edges, as PyG's mean
    aggregation gives)."""
    total = sum_at_receivers(parts, num_nodes)
    in_degree = degree(receivers, num_nodes, dtype=total.dtype)
    return total / in_degree.clamp(min=1).view(-1, *[1] * (total.dim() - 1))


def step_seed(module: torch.nn.Module, dropout: float) -> Optional[int]:
    r"""A seed for the chunks of one step of ``module`` that run in several
    passes (:func:`seeded`), drawn from the CPU generator (no read of a
    device): :obj:`None` where no dropout is active (in evaluation, or
    without dropout), which needs none."""
    if not (module.training and dropout > 0):
        return None
    return int(torch.randint(2**62, ()))


@contextmanager
def seeded(seed: Optional[int], number: int, device: torch.device) -> Iterator[None]:
    r"""Draws the dropout masks of chunk ``number`` from ``seed + number``
    on the generator of ``device``, restored after, so that every pass over
    the chunk draws the same masks; does nothing for ``seed=None``."""
    if seed is None:
        yield
        return
    cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device.index or 0] if cuda else []):
        generator = (torch.cuda.default_generators[device.index or 0] if cuda
                     else torch.random.default_generator)
        generator.manual_seed(seed + number)
        yield

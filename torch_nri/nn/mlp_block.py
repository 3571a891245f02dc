from typing import Any, List, Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor
from torch.nn import BatchNorm1d, Linear, Module, SyncBatchNorm

from torch_nri._validation import check_sizes


class MLPBlock(Module):
    r"""The 2-layer ELU MLP with batch normalisation and dropout that every
    NRI encoder is built from (Kipf et al., 2018, supplement C.2):

    .. math::
        \mathrm{MLP}(\mathbf{x}) = \mathrm{BN}\Big(\mathrm{ELU}\big(\mathbf{W}_2\,
        \mathrm{Dropout}(\mathrm{ELU}(\mathbf{W}_1 \mathbf{x} + \mathbf{b}_1))
        + \mathbf{b}_2\big)\Big)

    Batch normalisation acts on the last dimension, with every leading
    dimension (nodes or edges, time) flattened into the batch. The order of
    operations (normalisation after the second activation only) is the
    paper's, which :class:`torch_geometric.nn.models.MLP` cannot express; hence
    this small class.

    Args:
        in_channels (int): Size of each input sample.
        hidden_channels (int): Size of the hidden layer.
        out_channels (int): Size of each output sample.
        dropout (float, optional): Dropout probability after the first layer.
            (default: :obj:`0.0`)
        batch_norm (bool, optional): If set to :obj:`False`, the final batch
            normalisation is left out. (default: :obj:`True`)

    Shapes:
        - **input:** :math:`(*, F_{in})`
        - **output:** :math:`(*, F_{out})`
    """
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 dropout: float = 0.0, batch_norm: bool = True) -> None:
        super().__init__()
        check_sizes(self, in_channels=in_channels, hidden_channels=hidden_channels,
                    out_channels=out_channels)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.lin1 = Linear(in_channels, hidden_channels)
        self.lin2 = Linear(hidden_channels, out_channels)
        self.norm = BatchNorm1d(out_channels) if batch_norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Xavier-normal weights and biases of 0.1, as in the original code."""
        for lin in (self.lin1, self.lin2):
            torch.nn.init.xavier_normal_(lin.weight)
            torch.nn.init.constant_(lin.bias, 0.1)
        if self.norm is not None:
            self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.from_first_layer(self.lin1(x))

    def from_first_layer(self, pre: Tensor,
                         statistics: Optional[Tuple[Tensor, Tensor]] = None) -> Tensor:
        r"""The block given its first layer's output
        :math:`\mathbf{W}_1 \mathbf{x} + \mathbf{b}_1`, computed elsewhere
        (e.g. per node and gathered onto edges, see
        :meth:`~torch_nri.nn.NRIMessagePassing.node_to_edge_linear`).
        ``statistics`` (mean, biased variance) replace the batch statistics
        of the normalisation: those of a batch run in chunks
        (:meth:`batch_statistics`)."""
        x = self.before_norm(pre)
        if self.norm is None:
            return x
        if statistics is None:
            return self.norm(x.reshape(-1, x.size(-1))).view(x.shape)
        mean, var = statistics
        return (x - mean) * torch.rsqrt(var + self.norm.eps) * self.norm.weight + self.norm.bias

    def before_norm(self, pre: Tensor) -> Tensor:
        r"""The block up to its normalisation, from its first layer's output."""
        x = F.elu(pre)
        x = F.dropout(x, p=self.dropout, training=self.training)
        return F.elu(self.lin2(x))

    @staticmethod
    def chunk_moments(x: Tensor) -> Tensor:
        r"""Rows, mean and sum of squared deviations of the rows of one chunk
        ``[*, C] -> [3, C]``, combined over chunks by
        :meth:`batch_statistics`. In float32 whatever the input's dtype, as
        the batch normalisation of one pass computes its statistics: under
        :func:`torch.autocast` a bf16 count is inexact above 256 rows and an
        fp16 one infinite above 65,504."""
        x = x.reshape(-1, x.size(-1)).float()
        mean = x.mean(dim=0)
        return torch.stack([torch.full_like(mean, x.size(0)), mean,
                            (x - mean).square().sum(dim=0)])

    def batch_statistics(self, moments: List[Tensor]) -> Tuple[Tensor, Tensor]:
        r"""The mean and biased variance of a batch from its chunks'
        :meth:`chunk_moments` (Chan et al.'s pairwise update, stable where
        the mean is large against the spread), differentiable, as one
        normalisation over the whole batch would compute them; updates the
        running statistics as that normalisation would:

        .. math::
            \mu = \frac{1}{n} \sum_c n_c \mu_c, \qquad
            \sigma^2 = \frac{1}{n} \sum_c \big(M_c + n_c (\mu_c - \mu)^2\big)

        Where the normalisation is a :class:`~torch.nn.SyncBatchNorm` (DDP on
        GPUs) and a process group is initialised, the chunks of every
        process are combined, so that the statistics are those of the global
        batch, as SyncBatchNorm's own pass would take them.
        """
        total = _combine_moments(torch.stack(moments))
        norm = self.norm
        if isinstance(norm, SyncBatchNorm) and dist.is_available() and dist.is_initialized():
            # The global batch of every process, as SyncBatchNorm's own pass
            # would normalise (differentiable: the gradients cross too).
            total = _combine_moments(_AllGather.apply(total, norm.process_group))
        rows, mean, squares = total
        var = squares / rows
        if norm is not None and norm.track_running_stats:
            with torch.no_grad():
                norm.num_batches_tracked += 1
                # A tensor factor where it depends on the count: no host read.
                factor = (1.0 / norm.num_batches_tracked if norm.momentum is None
                          else norm.momentum)
                unbiased = var * rows / (rows - 1).clamp(min=1)
                norm.running_mean.lerp_(mean.to(norm.running_mean.dtype), factor)
                norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), factor)
        return mean, var

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.hidden_channels}, {self.out_channels}, dropout={self.dropout}, "
                f"batch_norm={self.norm is not None})")


def _combine_moments(moments: Tensor) -> Tensor:
    # [parts, 3, C] of (rows, mean, sum of squared deviations) -> [3, C] of
    # all parts (Chan et al.'s pairwise update).
    counts, means, squares = moments.unbind(dim=1)
    rows = counts.sum(dim=0)
    mean = (counts * means).sum(dim=0) / rows
    return torch.stack([rows, mean, (squares + counts * (means - mean).square()).sum(dim=0)])


class _AllGather(torch.autograd.Function):
    # Every process's tensor, stacked [W, ...], and in the backward pass the
    # sum of every process's gradient of its own part, as SyncBatchNorm sums
    # them (DDP then averages the parameters' gradients). Written here
    # because torch.distributed.nn.functional.all_gather warns that it is
    # deprecated, for a private successor.
    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: Any) -> Tensor:
        ctx.group = group
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, tensor.contiguous(), group=group)
        return torch.stack(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor, None]:
        grad = grad.contiguous()
        dist.all_reduce(grad, group=ctx.group)
        return grad[dist.get_rank(ctx.group)], None

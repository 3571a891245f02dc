"""What the benchmarks share: one NRI training step (MLP encoder + MLP
decoder, the paper's model) in three formulations, and how it is timed.

  - "dense": torch_nri.testing.dense_reference, the one-hot formulation of the
    NRI supplement (C.1) in the original code's layout [B, N, T, F], with the
    per-type loop of the original;
  - "full": torch_nri on the fully connected graph (a PyG batch of B systems);
  - "knn": torch_nri on the k-nearest-neighbour graph of random positions.

All three use the same modules (and so the same parameters and FLOPs).
"""
import math
import resource
import statistics
import time
from typing import Callable, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from torch_nri import value_checks
from torch_nri.graphs import fully_connected_edge_index, knn_graph
from torch_nri.losses import elbo
from torch_nri.models import DNRI, NRI, ConfigurableModel
from torch_nri.nn import DNRIEncoder, MLPDecoder, MLPEncoder, RIEncoder, STDecoder
from torch_nri.testing import dense_reference

NUM_FEATURES = 4  # springs: position and velocity in 2-D
NUM_EDGE_TYPES = 2


def build_model(num_steps: int, hidden: int, checkpoint: bool = False,
                chunk_size: Optional[int] = None, skip: bool = False,
                checkpoint_memory: Optional[int] = None, no_edge_type: bool = False,
                mpm: Optional[str] = None, dynamic: bool = False) -> ConfigurableModel:
    """The paper's springs model. ``checkpoint``: the encoder's and the
    decoder's memory option (chunks of ``chunk_size`` edges, or as many as
    fit in ``checkpoint_memory`` bytes, by default the layers' 256 MiB).
    ``no_edge_type``: type 0 is "no edge" (no message MLP) and samples are
    hard (straight-through); ``skip``: that, and the decoder skips the
    no-edge edges. ``mpm``: NRI-MPM's model instead, the relation
    interaction encoder (its inter-edge model over each node's
    neighbourhood) and the spatio-temporal decoder, with this sequence
    model (``"gru"`` or ``"attention"``). ``dynamic``: dNRI, a graph per
    step (its DNRIEncoder, which has no checkpointing, and the MLP decoder)."""
    memory = dict(checkpoint=checkpoint, checkpoint_chunk_size=chunk_size)
    if checkpoint_memory is not None:
        memory["checkpoint_memory"] = checkpoint_memory
    no_edge_type = no_edge_type or skip
    if mpm is not None:
        encoder = RIEncoder(num_steps * NUM_FEATURES, hidden, NUM_EDGE_TYPES,
                            sequence_model=mpm, inter_scope="neighbourhood", **memory)
        decoder = STDecoder(NUM_FEATURES, NUM_EDGE_TYPES, hidden, sequence_model=mpm,
                            skip_first=no_edge_type, **memory)
        return NRI(encoder, decoder, NUM_EDGE_TYPES, hard=no_edge_type)
    decoder = MLPDecoder(NUM_FEATURES, NUM_EDGE_TYPES, hidden, hidden, hidden,
                         skip_first=no_edge_type, skip_no_edges=skip, **memory)
    if dynamic:
        return DNRI(DNRIEncoder(NUM_FEATURES, hidden, NUM_EDGE_TYPES), decoder,
                    NUM_EDGE_TYPES, hard=no_edge_type)
    encoder = MLPEncoder(num_steps * NUM_FEATURES, hidden, NUM_EDGE_TYPES, **memory)
    return NRI(encoder, decoder, NUM_EDGE_TYPES, hard=no_edge_type)


def candidate_graph(method: str, num_nodes: int, k: int, seed: int = 0) -> torch.Tensor:
    """The graph of one system: fully connected, or k-NN of random positions."""
    if method == "knn":
        pos = torch.as_tensor(np.random.default_rng(seed).random((num_nodes, 2)))
        return knn_graph(pos, k)
    return fully_connected_edge_index(num_nodes)


def batched(edge_index: torch.Tensor, num_nodes: int, batch: int) -> torch.Tensor:
    """The disjoint union of ``batch`` copies of one system's graph."""
    offsets = torch.arange(batch).repeat_interleave(edge_index.size(1)) * num_nodes
    return edge_index.repeat(1, batch) + offsets


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step(method: str, model: ConfigurableModel, num_nodes: int, batch: int, num_steps: int,
                  k: int = 10, prediction_steps: int = 10, precision: str = "fp32",
                  device: str = "cpu", compile_mode: Optional[str] = None,
                  sync: bool = True) -> Callable[[], None]:
    """A closure running forward + backward of one training step (the ELBO of
    the paper, gradients of every parameter) on random trajectories, as the
    training loop runs it: on ``device``, under autocast for ``precision``
    ``"bf16"``/``"fp16"``, with the value checks off (the loop checks its
    data once), and through ``torch.compile(mode=compile_mode)`` when a mode
    is given (``"default"``, ``"reduce-overhead"``, ...). ``"tf32"`` is
    float32 with TF32 matrix multiplies (CUDA). The closure returns after
    the device has finished the step, or with ``sync=False`` as soon as the
    step is queued (for many steps timed as a whole, as the loop runs them)."""
    device = torch.device(device)
    model.to(device)
    edge_index = candidate_graph(method, num_nodes, k).to(device)
    dtype = AUTOCAST_DTYPES.get(precision)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    x = torch.randn(batch, num_nodes, num_steps, NUM_FEATURES).to(device)
    matmul_precision = "high" if precision == "tf32" else "highest"

    if method == "dense":
        def forward(x):
            logits = dense_reference.mlp_encoder(model.encoder, x, edge_index).float()
            edges = F.gumbel_softmax(logits, tau=model.tau)
            predictions = dense_reference.mlp_decoder(model.decoder, x, edge_index, edges,
                                                      prediction_steps).float()
            return elbo(predictions.flatten(0, 1), x[:, :, 1:].flatten(0, 1),
                        logits.flatten(0, 1), variance=model.variance).elbo
    else:
        edge_index = batched(edge_index, num_nodes, batch)
        x = x.flatten(0, 1)

        def forward(x):
            out = model(x, edge_index, **model.training_kwargs(num_steps, prediction_steps))
            return -model.objective(out).loss
    if compile_mode is not None:
        forward = torch.compile(forward, mode=None if compile_mode == "default"
                                else compile_mode)

    def step():
        torch.set_float32_matmul_precision(matmul_precision)
        with value_checks(False), autocast:
            loss = forward(x)
        (-loss).backward()
        if sync:
            synchronize(device)
    return step


def adam_update(step: Callable[[], None], model: torch.nn.Module, precision: str = "fp32",
                device: str = "cpu", sync: bool = True) -> Callable[[], None]:
    """A closure running :func:`training_step`'s ``step`` as the training
    loop does: gradients zeroed, the step, then an Adam update (learning
    rate 5e-4) through a :class:`~torch.amp.GradScaler` (on for ``"fp16"``).
    It returns after the device has finished, or with ``sync=False`` as soon
    as the update is queued."""
    device = torch.device(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def update():
        optimizer.zero_grad(set_to_none=True)
        step()
        scaler.step(optimizer)
        scaler.update()
        if sync:
            synchronize(device)
    return update


def median_seconds(fn: Callable[[], object], repeats: int,
                   long_run: float = float("inf")) -> float:
    """Median seconds of ``fn`` over ``repeats`` calls after one warm-up call;
    a warm-up longer than ``long_run`` seconds is reported alone (warm-up
    effects are then negligible, and large sizes would take too long)."""
    times: List[float] = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if times[0] > long_run:
            return times[0]
    return statistics.median(times[1:])


def peak_rss_gb() -> float:
    """The process's peak resident memory so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def decoder_step_flops(num_edges: int, num_nodes: int, rows_per_item: int, hidden: int,
                       num_message_types: int = NUM_EDGE_TYPES) -> float:
    """Multiply-add FLOPs (2 per MAC) of one forward MLPDecoder step on
    ``rows_per_item`` segments: the per-type message MLPs on every edge and
    the output MLP on every node."""
    F_ = NUM_FEATURES
    edge = num_message_types * (2 * F_ * hidden + hidden * hidden)
    node = (F_ + hidden) * hidden + hidden * hidden + hidden * F_
    return 2.0 * rows_per_item * (num_edges * edge + num_nodes * node)


def segments(num_steps: int, prediction_steps: int) -> int:
    """Segments of the MLP decoder's rollout: one per ground-truth start."""
    return math.ceil((num_steps - 1) / prediction_steps)

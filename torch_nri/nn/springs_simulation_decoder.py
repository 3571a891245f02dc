import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from torch_nri.nn.decoder import NRIDecoder


def _check_range(value: Any, name: str) -> Tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' must be a pair (min, max) of floats, "
                         f"got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"'{name}' must be a finite pair (min, max) with min < max, "
                         f"got {value!r}")
    return low, high


class SpringsSimulationDecoder(NRIDecoder):
    r"""The "NRI (sim.)" decoder of NRI (Kipf et al., 2018, supplement D.1.1):
    the springs simulator itself, with no parameters, as a differentiable
    decoder, so that the encoder is trained by backpropagating through the
    physics. One step denormalises the state, computes the spring force on
    each object from the sampled edges,

    .. math::
        k_{(i,j)} &= \sum_k z_{ij,k}\, c_k

        \mathbf{F}_j(\mathbf{r}) &= -\sum_{i \in \mathcal{N}(j)} k_{(i,j)}
        (\mathbf{r}_j - \mathbf{r}_i)

    with :math:`c_k` the spring constant of edge type :math:`k`, and
    advances the state by the data generator's kick-drift leap-frog (unit
    masses, elastic walls at :math:`\pm` ``box_size`` or none), in :math:`S` =
    ``substeps`` substeps of :math:`\Delta t = \tau / S`:

    .. math::
        \mathbf{v} \leftarrow \mathbf{v} + \Delta t\, \mathbf{F}(\mathbf{r}),
        \qquad \mathbf{r} \leftarrow \mathbf{r} + \Delta t\, \mathbf{v}

    before normalising the result again. The paper finds that a single
    leap-frog step (:math:`S = 1`) per sampled step suffices for springs.
    Edges are directed: a force acts on the receiver only, so a spring
    between two objects needs both directions (as with symmetric relations
    on a fully connected graph).

    As the learned decoders, it is fed the ground truth only every
    ``prediction_steps`` steps and its own predictions in between
    (``feeding = "teacher_forcing"``, see :class:`NRIDecoder`). The physics
    (spring constants, box, time step) must be the data's: the training
    builders take them from the dataset (:attr:`SpringsDataset.physics
    <torch_nri.datasets.SpringsDataset.physics>`).

    Args:
        position_range (tuple of float): The ``(min, max)`` of the positions
            (features 0 and 1) used to normalise the data,
            :math:`\tilde{x} = 2 (x - \min) / (\max - \min) - 1`.
        velocity_range (tuple of float): The ``(min, max)`` of the
            velocities (features 2 and 3).
        spring_constants (sequence of float, optional): Spring constant
            :math:`c_k` of each edge type; their number is the number of edge
            types :math:`K`. The springs data's constants are
            ``interaction_strength * spring_types``. (default: :obj:`(0.0, 0.1)`)
        box_size (float, optional): Half-width of the box; :obj:`None` for
            free space, the data's ``walls=False``. (default: :obj:`5.0`)
        time_step (float, optional): Time :math:`\tau` between two samples
            (``dt * sample_freq`` of the data). (default: :obj:`0.1`)
        substeps (int, optional): Leap-frog steps :math:`S` per sample.
            (default: :obj:`1`)

    Shapes:
        - **input:** normalised node features :math:`(N, T, 4)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E, K)`
        - **output:** predictions of steps :math:`2..T`, :math:`(N, T - 1, 4)`
    """
    def __init__(self, position_range: Tuple[float, float],
                 velocity_range: Tuple[float, float],
                 spring_constants: Sequence[float] = (0.0, 0.1),
                 box_size: Optional[float] = 5.0,
                 time_step: float = 0.1, substeps: int = 1) -> None:
        try:
            constants = tuple(float(c) for c in spring_constants)
        except (TypeError, ValueError):
            raise ValueError(f"'spring_constants' must be a sequence of floats, "
                             f"got {spring_constants!r}") from None
        if not constants or not all(math.isfinite(c) for c in constants):
            raise ValueError(f"'spring_constants' must be a non-empty sequence of finite "
                             f"floats, got {spring_constants!r}")
        # Positions and velocities in 2-D: 4 features; one edge type per constant.
        super().__init__(in_channels=4, num_edge_types=len(constants))
        self.position_range = _check_range(position_range, "position_range")
        self.velocity_range = _check_range(velocity_range, "velocity_range")
        self.spring_constants = constants
        if box_size is not None and not (isinstance(box_size, (int, float))
                                         and math.isfinite(box_size) and box_size > 0):
            raise ValueError(f"'box_size' must be positive (or None: no walls), "
                             f"got {box_size!r}")
        if not (isinstance(time_step, (int, float)) and math.isfinite(time_step)
                and time_step > 0):
            raise ValueError(f"'time_step' must be positive, got {time_step!r}")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"'substeps' must be an integer of at least 1, got {substeps!r}")
        self.box_size = None if box_size is None else float(box_size)
        self.time_step = float(time_step)
        self.substeps = substeps
        self.reset_parameters()

    @classmethod
    def from_stats(cls, stats: Any, **kwargs: Any) -> "SpringsSimulationDecoder":
        r"""The decoder for data normalised by ``stats``, a
        :class:`~torch_nri.datasets.MinMaxStats` with the named feature
        groups ``"position"`` and ``"velocity"`` (as the springs data's);
        ``kwargs`` are passed to the constructor."""
        return cls(**cls.ranges_of(stats), **kwargs)

    @staticmethod
    def ranges_of(stats: Any) -> Dict[str, List[float]]:
        r"""The ``position_range`` and ``velocity_range`` arguments (plain
        lists, as a model config stores them) for data normalised by
        ``stats`` (see :meth:`from_stats`)."""
        names = getattr(stats, "names", None) or []
        if not {"position", "velocity"} <= set(names):
            raise ValueError(f"'stats' must have the feature groups 'position' and "
                             f"'velocity' (the springs data's), got groups "
                             f"{getattr(stats, 'groups', stats)!r} named {names}")
        return {"position_range": list(stats.range_of("position")),
                "velocity_range": list(stats.range_of("velocity"))}

    def reset_parameters(self) -> None:
        r"""Does nothing: the simulator has no parameters."""

    def _scale(self, ref: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-feature ``(min, max - min)`` of the 4 features, as ``ref``."""
        (p_lo, p_hi), (v_lo, v_hi) = self.position_range, self.velocity_range
        low = torch.tensor([p_lo, p_lo, v_lo, v_lo], dtype=ref.dtype, device=ref.device)
        width = torch.tensor([p_hi - p_lo] * 2 + [v_hi - v_lo] * 2, dtype=ref.dtype,
                             device=ref.device)
        return low, width

    def forces(self, r: Tensor, edge_index: Tensor, stiffness: Tensor) -> Tensor:
        r"""Spring forces ``[N, *, 2]`` on each receiver for raw positions
        ``r`` ``[N, *, 2]`` and per-edge spring constants ``stiffness`` ``[E]``."""
        return self.propagate(edge_index, r=r, stiffness=stiffness)

    def message(self, r_i: Tensor, r_j: Tensor, stiffness: Tensor) -> Tensor:
        # r_i: receiver, r_j: sender. Force on the receiver: -k (r_i - r_j).
        k = stiffness.view((-1,) + (1,) * (r_i.dim() - 1))
        return -k * (r_i - r_j)

    def step(self, x: Tensor, edge_index: Tensor, edge_weights: Tensor,
             memory: Any = None) -> Tuple[Tensor, None]:
        r"""One sampled step of normalised states ``[N, *, 4]``: spring
        constants :math:`k_{(i,j)}` from the edge weights, denormalise,
        ``substeps`` leap-frog steps, normalise. The simulator has no memory."""
        constants = torch.tensor(self.spring_constants, dtype=edge_weights.dtype,
                                 device=edge_weights.device)
        stiffness = (edge_weights * constants).sum(-1).to(x.dtype)
        low, width = self._scale(x)
        state = (x + 1) * width / 2 + low
        r, v = state[..., :2], state[..., 2:]
        dt, box = self.time_step / self.substeps, self.box_size
        for _ in range(self.substeps):
            v = v + dt * self.forces(r, edge_index, stiffness)
            r = r + dt * v
            if box is None:
                continue
            over, under = r > box, r < -box
            r = torch.where(over, 2 * box - r, torch.where(under, -2 * box - r, r))
            v = torch.where(over, -v.abs(), torch.where(under, v.abs(), v))
        return (torch.cat([r, v], dim=-1) - low) * 2 / width - 1, None

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(position_range={self.position_range}, "
                f"velocity_range={self.velocity_range}, "
                f"spring_constants={self.spring_constants}, box_size={self.box_size}, "
                f"time_step={self.time_step}, substeps={self.substeps})")

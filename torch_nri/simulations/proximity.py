r"""Particles that interact only while they are close: the synthetic system
of dNRI (Graber and Schwing, 2020), whose interaction graph
switches on and off over time, and its form for many objects."""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from torch_nri.simulations.neighbours import isin_sorted, union_offsets
from torch_nri.simulations.particles import num_samples_of, reflect

LAYOUTS = ("auto", "crossing", "gas")


@dataclass
class ProximityTrajectories:
    r"""Raw trajectories of :func:`simulate_proximity` and the interactions
    active at each sampled step.

    Attributes:
        positions (numpy.ndarray): ``[num_sims, T, N, 2]``, float32.
        velocities (numpy.ndarray): ``[num_sims, T, N, 2]``, float32.
        active (list of numpy.ndarray): For each sampled step, the directed
            edges :math:`i \rightarrow j` acting at that step (pushing
            :math:`j` away from :math:`i`), as sorted keys
            ``(s * N + i) * (S * N) + (s * N + j)`` of flat node indices
            over all systems: sparse, :math:`O(E_t)` per step.
        num_nodes (int): Objects per system :math:`N`.
    """
    positions: np.ndarray
    velocities: np.ndarray
    active: List[np.ndarray]
    num_nodes: int

    @property
    def features(self) -> np.ndarray:
        r"""Model input ``[num_sims, T, N, 4]``: position and velocity."""
        return np.concatenate([self.positions, self.velocities], axis=-1)

    def edge_types(self, system: int, senders: np.ndarray, receivers: np.ndarray) -> np.ndarray:
        r"""Whether each edge ``senders -> receivers`` (node indices of
        ``system``) acts at each sampled step: ``[E, T]``, 1 or 0."""
        num_flat = self.positions.shape[0] * self.num_nodes
        offset = system * self.num_nodes
        keys = (senders + offset).astype(np.int64) * num_flat + (receivers + offset)
        return np.stack([isin_sorted(step, keys) for step in self.active], axis=1).astype(np.int64)

    def active_counts(self) -> np.ndarray:
        r"""The active edges of each system summed over the sampled steps,
        ``[num_sims]``."""
        num_sims = self.positions.shape[0]
        num_flat = num_sims * self.num_nodes
        return sum((np.bincount(keys // num_flat // self.num_nodes, minlength=num_sims)
                    for keys in self.active), np.zeros(num_sims, dtype=np.int64))

    def dense_relations(self) -> np.ndarray:
        r"""The active edges as dense ``[num_sims, T, N, N]`` 0/1 arrays
        ``[s, t, i, j]`` (for small :math:`N`)."""
        num_sims, num_steps = self.positions.shape[:2]
        n, num_flat = self.num_nodes, num_sims * self.num_nodes
        out = np.zeros((num_sims, num_steps, n, n), dtype=np.int64)
        for t, keys in enumerate(self.active):
            senders, receivers = keys // num_flat, keys % num_flat
            out[senders // n, t, senders % n, receivers % n] = 1
        return out


def simulate_proximity(num_sims: int, num_nodes: int = 3, length: int = 51,
                       sample_freq: int = 1, seed: Optional[int] = None,
                       layout: str = "auto", radius: float = 1.0, push: float = 0.05,
                       density: float = 0.2, vel_norm: float = 0.1,
                       progress: bool = False) -> ProximityTrajectories:
    r"""Particles that push each other apart while closer than ``radius``,
    many systems at once: an interaction graph that changes over time.

    An edge :math:`i \rightarrow j` acts at step :math:`t` exactly while
    :math:`d^t_{ij} = \lVert \mathbf{r}^t_j - \mathbf{r}^t_i \rVert <`
    ``radius`` :math:`= r` (and the layout lets :math:`i` push :math:`j`); it
    then changes :math:`j`'s velocity, and positions move on (unit time
    steps, as in dNRI):

    .. math::
        \mathbf{v}^{t+1}_j = \mathbf{v}^t_j + c \sum_{i:\, d^t_{ij} < r}
        \Big(1 - \frac{d^t_{ij}}{r}\Big)
        \frac{\mathbf{r}^t_j - \mathbf{r}^t_i}{d^t_{ij}}, \qquad
        \mathbf{r}^{t+1} = \mathbf{r}^t + \mathbf{v}^{t+1}

    with push strength :math:`c` = ``push``. The edges and the state of a
    sampled step are those before its update, so the edges of step
    :math:`t` explain the change from step :math:`t` to :math:`t + 1`.

    Layouts:

    - ``"crossing"`` (:math:`N = 3`, dNRI's synthetic data): particles 0 and
      1 start in :math:`[-2, -1]^2` and :math:`[1, 2]^2` with velocities in
      :math:`[0.05, 0.1]^2` and :math:`[-0.1, -0.05]^2`, and cross the box on
      straight lines; particle 2 starts in :math:`[-1, 1]^2` with velocity
      in :math:`[-0.05, 0.05]^2` and is pushed away from each of them while
      within :math:`r` (edges :math:`0 \rightarrow 2` and
      :math:`1 \rightarrow 2`). No walls.
    - ``"gas"`` (any :math:`N`): particles uniform in a square box of
      ``density`` particles per unit area, with elastic walls, speed
      ``vel_norm`` in a random direction; every pair closer than :math:`r`
      pushes both ways. Close pairs are found with
      :class:`scipy.spatial.cKDTree` over all systems at once, so a step
      costs :math:`O(N \log N + E_t)`, never :math:`O(N^2)`.
    - ``"auto"``: ``"crossing"`` for :math:`N = 3`, ``"gas"`` otherwise.

    Args:
        num_sims (int): Number of systems.
        num_nodes (int, optional): Objects per system. (default: :obj:`3`)
        length (int, optional): Integration steps. (default: :obj:`51`)
        sample_freq (int, optional): Steps between samples; the samples are
            steps ``sample_freq, ..., length - sample_freq`` (0-based, as
            the other simulators), :math:`T = 50` by default.
            (default: :obj:`1`)
        seed (int, optional): Seed of :func:`numpy.random.default_rng`.
        layout (str, optional): ``"auto"``, ``"crossing"`` or ``"gas"``.
            (default: ``"auto"``)
        radius (float, optional): Interaction distance :math:`r`.
            (default: :obj:`1.0`)
        push (float, optional): Push strength :math:`c`. (default: :obj:`0.05`)
        density (float, optional): Particles per unit area of the
            ``"gas"`` layout. (default: :obj:`0.2`)
        vel_norm (float, optional): Initial speed of the ``"gas"`` layout.
            (default: :obj:`0.1`)
        progress (bool, optional): Show a progress bar. (default: :obj:`False`)
    """
    if layout not in LAYOUTS:
        raise ValueError(f"'layout' must be one of {LAYOUTS}, got {layout!r}")
    if layout == "auto":
        layout = "crossing" if num_nodes == 3 else "gas"
    if layout == "crossing" and num_nodes != 3:
        raise ValueError(f"layout='crossing' is dNRI's system of 3 particles, got "
                         f"num_nodes={num_nodes}")
    if not radius > 0 or num_nodes < 2:
        raise ValueError(f"'radius' must be positive and 'num_nodes' at least 2, got "
                         f"radius={radius}, num_nodes={num_nodes}")
    rng = np.random.default_rng(seed)
    num_samples = num_samples_of(length, sample_freq)
    if layout == "crossing":
        positions, velocities = _crossing_start(rng, num_sims)
        box = None
        close_pairs = _crossing_pairs(num_sims)
    else:
        box = 0.5 * np.sqrt(num_nodes / density)
        positions = rng.uniform(-box, box, (num_sims, num_nodes, 2))
        angle = rng.uniform(0, 2 * np.pi, (num_sims, num_nodes))
        velocities = vel_norm * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        close_pairs = _gas_pairs(positions, radius)

    shape = (num_sims, num_samples, num_nodes, 2)
    sampled_pos, sampled_vel = np.empty(shape, np.float32), np.empty(shape, np.float32)
    active: List[np.ndarray] = []
    num_flat = num_sims * num_nodes
    for step in tqdm(range(length - sample_freq + 1), desc="proximity", disable=not progress):
        flat_pos, flat_vel = positions.reshape(-1, 2), velocities.reshape(-1, 2)
        senders, receivers = close_pairs(flat_pos)
        diff = flat_pos[receivers] - flat_pos[senders]
        dist = np.sqrt(np.square(diff).sum(-1))
        on = dist < radius
        senders, receivers, diff, dist = senders[on], receivers[on], diff[on], dist[on]
        if step % sample_freq == 0 and step > 0:
            sampled_pos[:, step // sample_freq - 1] = positions
            sampled_vel[:, step // sample_freq - 1] = velocities
            active.append(np.sort(senders.astype(np.int64) * num_flat + receivers))
        kick = (push * (1 - dist / radius) / dist)[:, None] * diff
        for dim in range(2):  # sum over the edges into each receiver
            flat_vel[:, dim] += np.bincount(receivers, kick[:, dim], minlength=num_flat)
        positions += velocities
        if box is not None:
            reflect(positions, velocities, box)
    return ProximityTrajectories(sampled_pos, sampled_vel, active, num_nodes)


def _crossing_start(rng: np.random.Generator, num_sims: int) -> Tuple[np.ndarray, np.ndarray]:
    # dNRI's start: two drivers on crossing straight lines, one pushed particle.
    low = np.array([[-2.0, -2.0], [1.0, 1.0], [-1.0, -1.0]])
    high = np.array([[-1.0, -1.0], [2.0, 2.0], [1.0, 1.0]])
    vel_low = np.array([[0.05, 0.05], [-0.1, -0.1], [-0.05, -0.05]])
    vel_high = np.array([[0.1, 0.1], [-0.05, -0.05], [0.05, 0.05]])
    positions = rng.uniform(low, high, (num_sims, 3, 2))
    velocities = rng.uniform(vel_low, vel_high, (num_sims, 3, 2))
    return positions, velocities


def _crossing_pairs(num_sims: int):
    # The only edges that may act: 0 -> 2 and 1 -> 2 of every system.
    base = 3 * np.arange(num_sims)
    senders = np.concatenate([base, base + 1])
    receivers = np.concatenate([base + 2, base + 2])
    return lambda flat_pos: (senders, receivers)


def _gas_pairs(positions: np.ndarray, radius: float):
    # Every pair of a system within the radius, both directions; the systems
    # are shifted apart by a fixed offset so that one tree serves them all.
    shift = union_offsets(positions) - positions.reshape(-1, 2)

    def pairs(flat_pos: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        close = cKDTree(flat_pos + shift).query_pairs(radius, output_type="ndarray")
        close = close.reshape(-1, 2)
        return (np.concatenate([close[:, 0], close[:, 1]]),
                np.concatenate([close[:, 1], close[:, 0]]))
    return pairs


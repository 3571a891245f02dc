from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import numpy as np
import scipy.sparse
from tqdm.auto import tqdm

from torch_nri._validation import check_int, check_real
from torch_nri.simulations.neighbours import knn_pairs, union_offsets
from torch_nri.simulations.particles import (CHUNK_SIZE, initial_state, integrate, num_chunks,
                                             num_samples_of, wall_box)
from torch_nri.simulations.relations import probabilities, symmetric_types


@dataclass
class ParticleTrajectories:
    r"""Raw (unnormalised) trajectories of 2-D particle systems.

    Attributes:
        positions (numpy.ndarray): ``[num_sims, T, N, 2]``, float32.
        velocities (numpy.ndarray): ``[num_sims, T, N, 2]``, float32.
        relations: The true interaction graph. ``[num_sims, N, N]`` integer
            edge types (symmetric, zero diagonal) for all-pairs systems; for
            neighbour-restricted systems a list of ``num_sims`` sparse
            ``[N, N]`` :class:`scipy.sparse.csr_array` holding the nonzero
            types. ``None`` where the type follows from ``charges``.
        charges (numpy.ndarray, optional): ``[num_sims, N]`` charges (charged
            particles only).
    """
    positions: np.ndarray
    velocities: np.ndarray
    relations: Union[np.ndarray, List[scipy.sparse.csr_array], None]
    charges: Optional[np.ndarray] = None

    @property
    def features(self) -> np.ndarray:
        r"""Model input ``[num_sims, T, N, 4]``: position and velocity."""
        return np.concatenate([self.positions, self.velocities], axis=-1)


def simulate_springs(num_sims: int, num_nodes: int = 5, length: int = 5000,
                     sample_freq: int = 100, seed: Optional[int] = None,
                     spring_types: Sequence[float] = (0.0, 1.0),
                     spring_probs: Optional[Sequence[float]] = None,
                     interaction_strength: float = 0.1, box_size: float = 5.0,
                     loc_std: float = 0.5, vel_norm: float = 0.5, dt: float = 0.001,
                     num_neighbors: Optional[int] = None, density: Optional[float] = None,
                     walls: bool = True, progress: bool = False) -> ParticleTrajectories:
    r"""Particles joined by springs (NRI supplement B.1), many systems at once.

    Each pair :math:`(i, j)` is joined by a spring of type :math:`c` with
    probability ``spring_probs[c]`` (symmetric), constant
    :math:`k_{ij} =` ``interaction_strength * spring_types[c]``, and Hooke's
    law gives the force on :math:`i`:

    .. math::
        \mathbf{F}_i = -\sum_j k_{ij} (\mathbf{r}_i - \mathbf{r}_j)

    Unit masses in a box :math:`[-5, 5]^2` with elastic walls, integrated by
    leap-frog with step ``dt`` and sampled every ``sample_freq`` steps, so
    that ``length=5000, sample_freq=100`` gives :math:`T = 49` samples 0.1
    time units apart (10000 steps for the paper's test trajectories,
    :math:`T = 99`; in general :math:`T` = ``length // sample_freq - 1``).
    Objects start at :math:`\mathbf{r}_i \sim \mathcal{N}(0, 0.5^2 I)`
    (``loc_std``) with speed 0.5 (``vel_norm``) in a random direction.

    Variants: ``spring_probs=(1, 0)`` is the non-interacting system (the
    empty-graph test set); ``spring_types=(0, 0.5, 1)`` with the default
    uniform ``spring_probs`` gives three spring types, whose index is the
    relation. With ``num_neighbors=k`` (large :math:`N`), springs may only
    join each object to its :math:`k` nearest neighbours at the start
    (found with :class:`scipy.spatial.cKDTree`, symmetrised), and the forces
    are one product with the sparse matrix :math:`K - \operatorname{diag}
    (K \mathbf{1})` of the spring constants, :math:`O(E)` per step;
    ``relations`` is then sparse.

    Large systems at constant density (a deviation from the papers, whose
    five objects start in one Gaussian cloud inside walls):
    ``density=rho`` starts the objects uniformly in the square
    :math:`[-L/2, L/2]^2` of side :math:`L = \sqrt{N / \rho}`, so that the
    neighbourhood of an object looks the same at any :math:`N` (``loc_std``
    is then unused); ``walls=False`` removes the walls (``box_size`` is then
    unused), so that the dynamics depend on relative positions only and a
    translation-invariant model needs nothing else. The start is uniform
    (a Poisson layout, as the proximity system's ``"gas"``), not a grid: it
    takes any :math:`N` (a grid leaves a ragged row unless :math:`N` is a
    square), has no lattice directions for a model to pick up, and, unlike
    a plain grid, no ties among neighbour distances, which would leave the
    :math:`k` nearest neighbours to the order of the objects; its price is
    an occasional close pair. The spring constant, ``dt``, the sampling and
    the speed stay the papers'.

    Args:
        num_sims (int): Number of systems.
        num_nodes (int, optional): Objects per system. (default: :obj:`5`)
        length (int, optional): Integration steps. (default: :obj:`5000`)
        sample_freq (int, optional): Steps between samples. (default: :obj:`100`)
        seed (int, optional): Seed of :func:`numpy.random.default_rng`.
        spring_types (sequence of float, optional): Relative spring constant
            of each type; type 0 should be 0 ("no spring").
            (default: :obj:`(0.0, 1.0)`)
        spring_probs (sequence of float, optional): Probability of each type.
            (default: uniform)
        interaction_strength (float, optional): Scale of the spring
            constants. (default: :obj:`0.1`)
        box_size (float, optional): Half-width of the box. (default: :obj:`5.0`)
        loc_std (float, optional): Std of initial positions. (default: :obj:`0.5`)
        vel_norm (float, optional): Initial speed. (default: :obj:`0.5`)
        dt (float, optional): Integration step. (default: :obj:`0.001`)
        num_neighbors (int, optional): Restrict springs to this many nearest
            neighbours. (default: :obj:`None`, all pairs)
        density (float, optional): Objects per unit area of a uniform start
            in a square. (default: :obj:`None`, the Gaussian start)
        walls (bool, optional): Elastic walls at :math:`\pm` ``box_size``;
            :obj:`False` for free space. With a ``density``, the start square
            must fit in the box. (default: :obj:`True`)
        progress (bool, optional): Show a progress bar. (default: :obj:`False`)
    """
    check_int(seed, "seed", 0, optional=True)
    check_real(interaction_strength, "interaction_strength")
    check_real(dt, "dt", 0)
    spring_types = np.asarray(spring_types, dtype=np.float64)
    if not np.isfinite(spring_types).all():
        raise ValueError(f"'spring_types' must hold finite spring constants, got "
                         f"{spring_types.tolist()}")
    probs = probabilities(spring_probs, len(spring_types), "spring_probs")
    rng = np.random.default_rng(seed)
    positions, velocities = initial_state(rng, num_sims, num_nodes, loc_std, vel_norm, density)
    box = wall_box(walls, box_size, num_nodes, density)
    num_samples = num_samples_of(length, sample_freq)

    if num_neighbors is None:
        types = symmetric_types(rng, num_sims, num_nodes, probs)
        constants = interaction_strength * spring_types[types]  # [S, N, N]
        stiffness = constants.sum(-1, keepdims=True)

        def make_forces(chunk):
            k, k_sum = constants[chunk], stiffness[chunk]
            return lambda pos: k @ pos - k_sum * pos

        relations, chunk_size = types, CHUNK_SIZE
    else:
        senders, receivers = knn_pairs(union_offsets(positions), num_neighbors, num_nodes)
        pair_types = rng.choice(len(probs), size=senders.size, p=probs)
        keep = spring_types[pair_types] != 0
        senders, receivers, pair_types = senders[keep], receivers[keep], pair_types[keep]
        pair_k = interaction_strength * spring_types[pair_types]
        num_flat = num_sims * num_nodes
        nodes = np.arange(num_flat)
        degree = (np.bincount(senders, pair_k, minlength=num_flat)
                  + np.bincount(receivers, pair_k, minlength=num_flat))
        # F = (K - diag(K 1)) r: one sparse product, 3x faster than gathering
        # both ends of every pair and summing with bincount.
        laplacian = scipy.sparse.csr_array(
            (np.concatenate([pair_k, pair_k, -degree]),
             (np.concatenate([senders, receivers, nodes]),
              np.concatenate([receivers, senders, nodes]))), shape=(num_flat, num_flat))

        def forces(pos):
            return (laplacian @ pos.reshape(-1, 2)).reshape(pos.shape)

        def make_forces(chunk):
            return forces  # pairs index all systems at once: one chunk

        relations = _sparse_relations(senders, receivers, pair_types, num_sims, num_nodes)
        chunk_size = None
    total = num_samples * num_chunks(num_sims, chunk_size)
    with tqdm(total=total, desc="springs", disable=not progress) as bar:
        pos, vel = integrate(positions, velocities, make_forces, length, sample_freq, box,
                             max_force=0.1 / dt, dt=dt, chunk_size=chunk_size, progress=bar)
    return ParticleTrajectories(pos, vel, relations)


def _sparse_relations(senders: np.ndarray, receivers: np.ndarray, types: np.ndarray,
                      num_sims: int, num_nodes: int) -> List[scipy.sparse.csr_array]:
    """Per-system symmetric sparse type matrices from flat pair indices."""
    system = senders // num_nodes
    out = []
    for s in range(num_sims):  # only to split the result, no physics per system
        mask = system == s
        i, j = senders[mask] % num_nodes, receivers[mask] % num_nodes
        out.append(scipy.sparse.csr_array(
            (np.concatenate([types[mask], types[mask]]),
             (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(num_nodes, num_nodes)))
    return out

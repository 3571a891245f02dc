"""Vectorised integration of 2-D particles in a box with elastic walls, or in
free space, shared by the springs and charged-particle systems (NRI
supplement B.1-B.2).

Systems advance together, in chunks of :data:`CHUNK_SIZE`: positions and
velocities are ``[S, N, 2]`` arrays and one time step is a handful of array
operations, with no Python loop over systems or pairs.
"""
from typing import Callable, Optional, Tuple

import numpy as np
from tqdm.auto import tqdm

from torch_nri._validation import check_int, check_real

ForceFn = Callable[[np.ndarray], np.ndarray]
CHUNK_SIZE = 1024  # systems per chunk of all-pairs systems (measured: ~2x over 50,000)


def initial_state(rng: np.random.Generator, num_sims: int, num_nodes: int, loc_std: float,
                  vel_norm: float, density: Optional[float] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    r"""Initial positions and velocities ``[S, N, 2]``: positions
    :math:`\sim \mathcal{N}(0, \sigma^2)` with :math:`\sigma` = ``loc_std``,
    as the original generator, or, given a ``density`` :math:`\rho`, uniform
    in the square :math:`[-L/2, L/2]^2` of side :math:`L = \sqrt{N / \rho}`
    (:func:`start_half_width`), so that :math:`\rho` objects per unit area
    start there whatever :math:`N`; velocities of norm ``vel_norm`` in a
    uniformly random direction."""
    check_int(num_sims, "num_sims", 1)
    check_int(num_nodes, "num_nodes", 1)
    check_real(loc_std, "loc_std", 0, low_open=False)
    check_real(vel_norm, "vel_norm", 0, low_open=False)
    if density is None:
        positions = rng.normal(0.0, loc_std, (num_sims, num_nodes, 2))
    else:
        half = start_half_width(num_nodes, density)
        positions = rng.uniform(-half, half, (num_sims, num_nodes, 2))
    velocities = rng.normal(0.0, 1.0, (num_sims, num_nodes, 2))
    velocities *= vel_norm / np.linalg.norm(velocities, axis=-1, keepdims=True)
    return positions, velocities


def start_half_width(num_nodes: int, density: float) -> float:
    r"""Half the side :math:`L / 2 = \frac{1}{2} \sqrt{N / \rho}` of the
    square that ``num_nodes`` objects fill at ``density`` objects per unit
    area (the proximity system's ``"gas"`` start, without its walls)."""
    check_real(density, "density", 0)
    return 0.5 * float(np.sqrt(num_nodes / density))


def wall_box(walls: bool, box_size: float, num_nodes: int,
             density: Optional[float] = None) -> Optional[float]:
    r"""The half-width of the box whose elastic walls :func:`integrate`
    applies, ``box_size``, or :obj:`None` for free space (``walls=False``).
    Refuses a start square (``density``) that does not fit in the box:
    its objects would start behind the walls."""
    if not isinstance(walls, (bool, np.bool_)):
        raise ValueError(f"'walls' must be True or False, got {walls!r}")
    check_real(box_size, "box_size", 0)
    if not walls:
        return None
    if density is not None and start_half_width(num_nodes, density) > box_size:
        raise ValueError(
            f"with walls, the start square of {num_nodes} objects at density {density} "
            f"(half-width sqrt(num_nodes / density) / 2 = "
            f"{start_half_width(num_nodes, density):.4g}) must fit in the box of half-width "
            f"box_size={box_size}; raise 'box_size' or 'density', or pass walls=False")
    return float(box_size)


def num_samples_of(length: int, sample_freq: int) -> int:
    """Samples at steps ``sample_freq, ..., length - sample_freq``: the
    original generators' sampling, which leaves out the initial state."""
    check_int(length, "length", 1)
    check_int(sample_freq, "sample_freq", 1)
    if length % sample_freq or length // sample_freq < 2:
        raise ValueError(f"'length' ({length}) must be a multiple of 'sample_freq' "
                         f"({sample_freq}) and at least twice it")
    return length // sample_freq - 1


def reflect(positions: np.ndarray, velocities: np.ndarray, box_size: float) -> None:
    """Elastic walls at +-box_size, in place: a particle past a wall is
    mirrored back inside and its velocity component points inwards."""
    over = positions > box_size
    positions[over] = 2 * box_size - positions[over]
    velocities[over] = -np.abs(velocities[over])
    under = positions < -box_size
    positions[under] = -2 * box_size - positions[under]
    velocities[under] = np.abs(velocities[under])


def integrate(positions: np.ndarray, velocities: np.ndarray,
              make_forces: Callable[[slice], ForceFn], length: int, sample_freq: int,
              box_size: Optional[float], max_force: float, dt: float,
              chunk_size: Optional[int] = None,
              progress: Optional[tqdm] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Integrates ``length`` steps of size ``dt`` and returns the states at
    steps ``sample_freq, 2 sample_freq, ..., length - sample_freq``:
    ``[S, T, N, 2]`` positions and velocities with
    ``T = length // sample_freq - 1``, the original code's sampling.

    The scheme is the original's kick-drift leap-frog: a first kick
    ``v += dt F(x)``, then per step a drift ``x += dt v``, the walls at
    ``+-box_size`` (none if ``box_size`` is :obj:`None`), a sample, and a
    kick. Each force component is clipped to ``+-max_force``. The inputs are
    updated in place.

    Systems are integrated in chunks of ``chunk_size`` (all at once if
    ``None``): ``make_forces(chunk)`` returns the force function of the
    systems ``chunk``. Chunks of about a thousand small systems keep the
    per-step temporaries in cache, about twice as fast as one huge array.
    """
    num_sims = positions.shape[0]
    num_samples = num_samples_of(length, sample_freq)
    shape = (num_sims, num_samples) + positions.shape[1:]
    sampled_pos = np.empty(shape, dtype=np.float32)
    sampled_vel = np.empty(shape, dtype=np.float32)
    chunk_size = chunk_size or num_sims
    for start in range(0, num_sims, chunk_size):
        chunk = slice(start, start + chunk_size)
        pos, vel, forces = positions[chunk], velocities[chunk], make_forces(chunk)
        if box_size is not None:
            reflect(pos, vel, box_size)
        vel += dt * np.clip(forces(pos), -max_force, max_force)
        for step in range(1, length - sample_freq + 1):
            pos += dt * vel
            if box_size is not None:
                reflect(pos, vel, box_size)
            if step % sample_freq == 0:
                sampled_pos[chunk, step // sample_freq - 1] = pos
                sampled_vel[chunk, step // sample_freq - 1] = vel
                if progress is not None:
                    progress.update(1)
            vel += dt * np.clip(forces(pos), -max_force, max_force)
    return sampled_pos, sampled_vel


def num_chunks(num_sims: int, chunk_size: Optional[int]) -> int:
    """How many chunks :func:`integrate` makes (for progress bars)."""
    return 1 if not chunk_size else -(-num_sims // chunk_size)


def pair_forces(positions: np.ndarray, senders: np.ndarray, receivers: np.ndarray,
                force_x: np.ndarray, force_y: np.ndarray) -> np.ndarray:
    """Sums equal and opposite pair forces over a sparse pair list, O(P).

    Args:
        positions: ``[S, N, 2]``; pairs index the flattened ``S * N`` nodes.
        senders, receivers: ``[P]`` flat node indices of each pair (i, j).
        force_x, force_y: ``[P]`` components of the force on ``receivers``
            from ``senders``; the sender gets the opposite.
    """
    num = positions.shape[0] * positions.shape[1]
    out = np.empty((num, 2))
    for dim, force in enumerate((force_x, force_y)):
        out[:, dim] = (np.bincount(receivers, force, minlength=num)
                       - np.bincount(senders, force, minlength=num))
    return out.reshape(positions.shape)

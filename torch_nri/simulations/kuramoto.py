from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from tqdm.auto import tqdm

from torch_nri._validation import check_int, check_real
from torch_nri.simulations.particles import num_samples_of
from torch_nri.simulations.relations import probabilities, symmetric_types

#: The feature sets of :func:`simulate_kuramoto`.
KURAMOTO_FEATURES = ("authors", "analytic")


@dataclass
class KuramotoTrajectories:
    r"""Raw trajectories of Kuramoto oscillator systems.

    Attributes:
        phases (numpy.ndarray): ``[num_sims, T, N]`` phases :math:`\phi` at
            the sampled steps (not wrapped).
        omega (numpy.ndarray): ``[num_sims, N]`` intrinsic frequencies
            :math:`\omega_i` (unscaled).
        features (numpy.ndarray): ``[num_sims, T, N, 3]`` model input, one of
            the two feature sets of :func:`simulate_kuramoto` (``"authors"``:
            scaled phase velocity, :math:`\sin\phi_i`, scaled
            :math:`\omega_i`; ``"analytic"``: coupling term
            :math:`\dot\phi_i - \omega_i`, :math:`\sin\phi_i`,
            :math:`\omega_i`).
        relations (numpy.ndarray): ``[num_sims, N, N]`` 0/1 couplings
            (symmetric, zero diagonal).
    """
    phases: np.ndarray
    omega: np.ndarray
    features: np.ndarray
    relations: np.ndarray


def kuramoto_velocity(phases: np.ndarray, omega: np.ndarray, coupling: np.ndarray) -> np.ndarray:
    r"""The right-hand side :math:`\omega_i + \sum_j k_{ij} \sin(\phi_j - \phi_i)`
    for phases ``[S, ..., N]`` (e.g. ``[S, N]`` or ``[S, T, N]``) and
    couplings ``[S, N, N]``, in :math:`O(N^2)`
    matrix products via
    :math:`\sin(\phi_j - \phi_i) = \sin\phi_j \cos\phi_i - \cos\phi_j \sin\phi_i`."""
    sin, cos = np.sin(phases), np.cos(phases)
    k_sin = np.einsum("sij,s...j->s...i", coupling, sin)
    k_cos = np.einsum("sij,s...j->s...i", coupling, cos)
    return omega + cos * k_sin - sin * k_cos


def _rk4_step(phases: np.ndarray, velocity: Callable[[np.ndarray], np.ndarray],
              dt: float) -> np.ndarray:
    k1 = velocity(phases)
    k2 = velocity(phases + 0.5 * dt * k1)
    k3 = velocity(phases + 0.5 * dt * k2)
    k4 = velocity(phases + dt * k3)
    return phases + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _to_unit_range(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    # 2 (x - low) / (high - low) - 1, and 0 where the range is empty.
    span = high - low
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, 2 * (x - low) / safe - 1, 0.0)


def simulate_kuramoto(num_sims: int, num_nodes: int = 5, length: int = 500,
                      sample_freq: int = 10, seed: Optional[int] = None,
                      edge_prob: float = 0.5, coupling_strength: float = 1.0,
                      omega_range: tuple = (1.0, 10.0), dt: float = 0.01,
                      features: str = "authors", scale_length: int = 1000,
                      progress: bool = False) -> KuramotoTrajectories:
    r"""Phase-coupled Kuramoto oscillators (NRI supplement B.3), many systems
    at once, with the attractive coupling

    .. math::
        \frac{d\phi_i}{dt} = \omega_i + \sum_{j \neq i} k_{ij} \sin(\phi_j - \phi_i)

    that the authors' generators integrate (the NRI paper's eq. 20 prints the
    opposite sign). :math:`\omega_i \sim U[1, 10)`,
    :math:`\phi_i(0) \sim U[0, 2\pi)`, :math:`k_{ij} = k_{ji} = 1` with
    probability 0.5, else 0. Classic RK4 with step ``dt`` (the NRI paper's
    integrator; the authors' code uses scipy's adaptive ``dopri5`` with
    outputs every ``dt``). With :math:`L` = ``length`` and :math:`f` =
    ``sample_freq``, :math:`T = L / f - 1` samples, one every :math:`f` steps
    (49 with the defaults).

    **features="authors"** (the default) follows the generator that made the
    papers' data (NRI-MPM ``generate/kuramoto.py``, ACD
    ``codebase/data/kuramoto.py``). Samples are taken at steps
    :math:`s_n = n f`, :math:`n = 0, 1, \dots`, from the initial state on,
    and the features of oscillator :math:`i` are

    1. the phase velocity (the NRI paper's "phase-difference") as a forward
       difference over one step,
       :math:`v_i(n) = (\phi_i(t_{s_n + 1}) - \phi_i(t_{s_n})) / dt`, min-max
       scaled to :math:`[-1, 1]` for each oscillator of each system on its own,
       :math:`2 (v_i(n) - \min_m v_i(m)) / (\max_m v_i(m) - \min_m v_i(m)) - 1`,
       where :math:`m` runs over the :math:`W / f` samples of the first
       :math:`W = \max(L, W_s)` steps (:math:`W_s` = ``scale_length``);
       :math:`0` at every step for an isolated oscillator (no
       :math:`k_{ij} \ne 0`);
    2. the "amplitude" :math:`\sin\phi_i(t_{s_n})`;
    3. the intrinsic frequency scaled by its range
       :math:`[\omega_{lo}, \omega_{hi})` (``omega_range``):
       :math:`2 (\omega_i - \omega_{lo}) / (\omega_{hi} - \omega_{lo}) - 1`,
       the same at every step.

    With the defaults every system is integrated over :math:`W = 1000` steps
    (10 time units), its phase velocity scaled over those 100 samples, and the
    first :math:`T` samples returned (49 for ``length=500``, 99 for
    ``length=1000``), as the authors' generators do for every split. So the
    scaling of a training trajectory depends on the 51 samples after it; set
    ``scale_length`` at or below ``length`` to scale over the returned
    trajectory (and the one sample after it) only, which also halves the
    integration of 500-step systems.

    **features="analytic"** (the features of torch_nri up to 0.2.0): samples
    at steps :math:`s_n = (n + 1) f` (the initial state left out, as
    :func:`simulate_springs` does), and features
    :math:`[\dot\phi_i - \omega_i, \sin\phi_i, \omega_i]`, all unscaled.
    The first is the exact coupling term
    :math:`\sum_j k_{ij}\sin(\phi_j - \phi_i)` of the ODE at the sample, zero
    for an isolated oscillator, and :math:`\dot\phi_i` is the sum of the first
    and third. Choose it for features free of finite-difference error and of
    any per-trajectory scaling, whose values mean the same across systems and
    lengths (the dataset's min-max scaling then is the only one) and which
    never look past the returned samples; choose ``"authors"`` to train on
    the data the papers' numbers come from.

    Args:
        num_sims (int): Number of systems.
        num_nodes (int, optional): Oscillators per system. (default: :obj:`5`)
        length (int, optional): Integration steps whose samples are returned.
            (default: :obj:`500`)
        sample_freq (int, optional): Steps between samples. (default: :obj:`10`)
        seed (int, optional): Seed of :func:`numpy.random.default_rng`.
        edge_prob (float, optional): Probability of coupling a pair.
            (default: :obj:`0.5`)
        coupling_strength (float, optional): :math:`k` of coupled pairs.
            (default: :obj:`1.0`)
        omega_range (tuple, optional): Range of intrinsic frequencies.
            (default: :obj:`(1.0, 10.0)`)
        dt (float, optional): Integration step. (default: :obj:`0.01`)
        features (str, optional): ``"authors"`` or ``"analytic"``, see above.
            (default: ``"authors"``)
        scale_length (int, optional): With ``features="authors"``, the steps
            :math:`W` (at least ``length``) over whose samples each oscillator's
            phase velocity is scaled; a multiple of ``sample_freq`` when above
            ``length``. (default: :obj:`1000`, the authors' 100 samples)
        progress (bool, optional): Show a progress bar. (default: :obj:`False`)
    """
    if features not in KURAMOTO_FEATURES:
        raise ValueError(f"'features' must be one of {KURAMOTO_FEATURES}, got {features!r}")
    check_int(num_sims, "num_sims", 1)
    check_int(num_nodes, "num_nodes", 1)
    check_int(seed, "seed", 0, optional=True)
    check_real(coupling_strength, "coupling_strength")
    check_real(dt, "dt", 0)
    check_int(scale_length, "scale_length", 0)
    try:
        low, high = map(float, omega_range)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite([low, high]).all() and low <= high):
        raise ValueError(f"'omega_range' must be (low, high) with finite low <= high, got "
                         f"{omega_range!r}")
    num_samples = num_samples_of(length, sample_freq)
    window = max(length, scale_length)
    if features == "authors" and window % sample_freq:
        raise ValueError(f"'scale_length' ({scale_length}) must be a multiple of "
                         f"'sample_freq' ({sample_freq})")
    probs = probabilities([1 - edge_prob, edge_prob], 2, "edge_prob")
    rng = np.random.default_rng(seed)
    omega = rng.uniform(*omega_range, size=(num_sims, num_nodes))
    phases = rng.uniform(0.0, 2 * np.pi, size=(num_sims, num_nodes))
    relations = symmetric_types(rng, num_sims, num_nodes, probs)
    coupling = coupling_strength * relations.astype(np.float64)

    def velocity(phi):
        return kuramoto_velocity(phi, omega, coupling)

    if features == "analytic":
        sampled = np.empty((num_sims, num_samples, num_nodes))
        with tqdm(total=num_samples, desc="kuramoto", disable=not progress) as bar:
            for step in range(1, length - sample_freq + 1):
                phases = _rk4_step(phases, velocity, dt)
                if step % sample_freq == 0:
                    sampled[:, step // sample_freq - 1] = phases
                    bar.update(1)
        coupling_term = kuramoto_velocity(sampled, 0.0, coupling)
        omega_t = np.broadcast_to(omega[:, None], sampled.shape)
        out = np.stack([coupling_term, np.sin(sampled), omega_t], axis=-1)
        return KuramotoTrajectories(sampled.astype(np.float32), omega.astype(np.float32),
                                    out.astype(np.float32), relations)

    # The authors' features: the phases at steps n * sample_freq and one step
    # later, for the window's samples n = 0 .. window / sample_freq - 1.
    num_window = window // sample_freq
    at = np.empty((num_sims, num_window, num_nodes))
    after = np.empty_like(at)
    with tqdm(total=num_window, desc="kuramoto", disable=not progress) as bar:
        for step in range(window - sample_freq + 1):
            if step % sample_freq == 0:
                at[:, step // sample_freq] = phases
                phases = _rk4_step(phases, velocity, dt)
                after[:, step // sample_freq] = phases
                bar.update(1)
            else:
                phases = _rk4_step(phases, velocity, dt)
    phase_velocity = (after - at) / dt
    scaled = _to_unit_range(phase_velocity, phase_velocity.min(1, keepdims=True),
                            phase_velocity.max(1, keepdims=True))
    isolated = ~(coupling != 0).any(-1)  # [S, N]: nothing pulls on the oscillator
    scaled = np.where(isolated[:, None], 0.0, scaled)[:, :num_samples]
    sampled = at[:, :num_samples]
    omega_scaled = _to_unit_range(omega, np.float64(omega_range[0]), np.float64(omega_range[1]))
    omega_t = np.broadcast_to(omega_scaled[:, None], sampled.shape)
    out = np.stack([scaled, np.sin(sampled), omega_t], axis=-1)
    return KuramotoTrajectories(sampled.astype(np.float32), omega.astype(np.float32),
                                out.astype(np.float32), relations)

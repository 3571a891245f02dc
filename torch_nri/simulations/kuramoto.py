from dataclasses import dataclass
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from torch_nri.simulations.particles import num_samples_of
from torch_nri.simulations.relations import probabilities, symmetric_types


@dataclass
class KuramotoTrajectories:
    r"""Raw trajectories of Kuramoto oscillator systems.

    Attributes:
        phases (numpy.ndarray): ``[num_sims, T, N]`` phases :math:`\phi`
            (not wrapped).
        omega (numpy.ndarray): ``[num_sims, N]`` intrinsic frequencies.
        features (numpy.ndarray): ``[num_sims, T, N, 3]`` model input:
            coupling term :math:`\dot\phi_i - \omega_i`, :math:`\sin\phi_i`,
            :math:`\omega_i` (see :func:`simulate_kuramoto`).
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


def simulate_kuramoto(num_sims: int, num_nodes: int = 5, length: int = 500,
                      sample_freq: int = 10, seed: Optional[int] = None,
                      edge_prob: float = 0.5, coupling_strength: float = 1.0,
                      omega_range: tuple = (1.0, 10.0), dt: float = 0.01,
                      progress: bool = False) -> KuramotoTrajectories:
    r"""Phase-coupled Kuramoto oscillators (NRI supplement B.3), many systems
    at once, with the attractive coupling

    .. math::
        \frac{d\phi_i}{dt} = \omega_i + \sum_{j \neq i} k_{ij} \sin(\phi_j - \phi_i)

    that the NRI-MPM generator integrates (the NRI paper's eq. 20 prints the
    opposite sign). :math:`\omega_i \sim U[1, 10)`,
    :math:`\phi_i(0) \sim U[0, 2\pi)`, :math:`k_{ij} = k_{ji} = 1` with
    probability 0.5, else 0. Classic RK4 with step ``dt``; samples every
    ``sample_freq`` steps, from step ``sample_freq`` to
    ``length - sample_freq`` (the sampling of :func:`simulate_springs`), so
    the defaults give :math:`T = 49`.

    The model's features are :math:`[\dot\phi_i - \omega_i, \sin\phi_i,
    \omega_i]`. The first, the coupling term
    :math:`\sum_j k_{ij}\sin(\phi_j - \phi_i)`, is what the NRI paper calls the
    "phase-difference": like the NRI-MPM generator, it is zero for an
    isolated oscillator, so the intrinsic frequency is not counted twice (it
    is the third feature) and :math:`\dot\phi_i` is their sum.

    Args:
        num_sims (int): Number of systems.
        num_nodes (int, optional): Oscillators per system. (default: :obj:`5`)
        length (int, optional): Integration steps. (default: :obj:`500`)
        sample_freq (int, optional): Steps between samples. (default: :obj:`10`)
        seed (int, optional): Seed of :func:`numpy.random.default_rng`.
        edge_prob (float, optional): Probability of coupling a pair.
            (default: :obj:`0.5`)
        coupling_strength (float, optional): :math:`k` of coupled pairs.
            (default: :obj:`1.0`)
        omega_range (tuple, optional): Range of intrinsic frequencies.
            (default: :obj:`(1.0, 10.0)`)
        dt (float, optional): Integration step. (default: :obj:`0.01`)
        progress (bool, optional): Show a progress bar. (default: :obj:`False`)
    """
    num_samples = num_samples_of(length, sample_freq)
    probs = probabilities([1 - edge_prob, edge_prob], 2, "edge_prob")
    rng = np.random.default_rng(seed)
    omega = rng.uniform(*omega_range, size=(num_sims, num_nodes))
    phases = rng.uniform(0.0, 2 * np.pi, size=(num_sims, num_nodes))
    relations = symmetric_types(rng, num_sims, num_nodes, probs)
    coupling = coupling_strength * relations.astype(np.float64)

    def velocity(phi):
        return kuramoto_velocity(phi, omega, coupling)

    sampled = np.empty((num_sims, num_samples, num_nodes))
    with tqdm(total=num_samples, desc="kuramoto", disable=not progress) as bar:
        for step in range(1, length - sample_freq + 1):
            k1 = velocity(phases)
            k2 = velocity(phases + 0.5 * dt * k1)
            k3 = velocity(phases + 0.5 * dt * k2)
            k4 = velocity(phases + dt * k3)
            phases = phases + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            if step % sample_freq == 0:
                sampled[:, step // sample_freq - 1] = phases
                bar.update(1)
    coupling_term = kuramoto_velocity(sampled, 0.0, coupling)
    omega_t = np.broadcast_to(omega[:, None], sampled.shape)
    features = np.stack([coupling_term, np.sin(sampled), omega_t], axis=-1)
    return KuramotoTrajectories(sampled.astype(np.float32), omega.astype(np.float32),
                                features.astype(np.float32), relations)

r"""Seeded, vectorised simulators of the NRI papers' physical systems
(supplement B): all systems of a call advance together as arrays."""
from torch_nri.simulations.springs import ParticleTrajectories, simulate_springs
from torch_nri.simulations.charged import simulate_charged
from torch_nri.simulations.proximity import ProximityTrajectories, simulate_proximity
from torch_nri.simulations.kuramoto import (KuramotoTrajectories, kuramoto_velocity,
                                            simulate_kuramoto)

__all__ = [
    "ParticleTrajectories",
    "KuramotoTrajectories",
    "ProximityTrajectories",
    "simulate_springs",
    "simulate_charged",
    "simulate_kuramoto",
    "simulate_proximity",
    "kuramoto_velocity",
]

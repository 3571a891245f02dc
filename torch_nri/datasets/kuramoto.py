from typing import Dict, List

from torch_nri.datasets.simulated import (SimulatedDataset, Simulation, first_type_no_edge,
                                          relation_counts, relation_lookup)
from torch_nri.simulations import simulate_kuramoto


class KuramotoDataset(SimulatedDataset):
    r"""Kuramoto oscillators (:func:`~torch_nri.simulations.simulate_kuramoto`);
    edge type 1 where the pair is coupled. Only the fully connected
    candidate graph applies (oscillators have no positions). See
    :class:`~torch_nri.datasets.SimulatedDataset` for the arguments.

    With the default physics (``features="authors"``) the data are the
    papers': 49 samples (99 for the test split) from the initial state on,
    one every 10 RK4 steps of :math:`dt = 0.01`, features
    ``[phase velocity, sin(phase), omega]``, where the simulator has scaled
    the finite-difference phase velocity of each oscillator to
    :math:`[-1, 1]` over the first 1,000 steps (0 for an isolated
    oscillator) and omega by its range. Each feature is then min-max scaled
    on its own with the training split's extremes (groups
    ``"phase_velocity"``, ``"sin_phase"``, ``"omega"``), as the NRI and
    NRI-MPM loaders scale each feature over the training set.
    ``features="analytic"`` gives the exact coupling term
    :math:`\dot\phi_i - \omega_i`, :math:`\sin\phi_i` and :math:`\omega_i`
    unscaled, sampled from step 10 on, in the same groups. The choice of
    ``features`` is always part of the cache key."""
    name = "kuramoto"
    feature_groups: Dict[str, List[int]] = {"phase_velocity": [0], "sin_phase": [1],
                                            "omega": [2]}
    simulator = staticmethod(simulate_kuramoto)
    training_defaults = {"encoder": "cnn", "skip_first": first_type_no_edge}
    training_defaults_source = ("NRI supplement D.1: a CNN encoder, and the first edge type "
                                "hard-coded as no edge")
    default_length = 500
    default_test_length = 1000
    default_sample_freq = 10
    # Caches of torch_nri before the authors' features became the default
    # hold the analytic ones under the same overrides.
    key_physics = ("features",)

    def simulate(self, num_sims: int, length: int, seed: int) -> Simulation:
        sim = self._simulate(num_sims, length, seed)
        return Simulation(sim.features, relation_lookup(sim.relations),
                          relation_counts(sim.relations))

r"""PyG datasets of simulated and recorded interacting systems, and the
registry of simulated systems (:data:`SYSTEMS`)."""
from torch_nri.datasets.acclaim import joint_positions, read_amc, read_asf
from torch_nri.datasets.mocap import (MOCAP_PROTOCOLS, MocapDataset, MocapProtocol, load_mocap,
                                      mocap_splits)
from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.datasets.simulated import PhysicsParameter, SimulatedDataset, Simulation
from torch_nri.datasets.springs import SpringsDataset
from torch_nri.datasets.charged import ChargedDataset
from torch_nri.datasets.kuramoto import KuramotoDataset
from torch_nri.datasets.proximity import ProximityDataset
from torch_nri.datasets.registry import SYSTEMS, get_system, physics_parameters
from torch_nri.datasets.trajectory import (SPLIT_FILES, Relations, TrajectoryDataset,
                                           load_splits, read_trajectories)

__all__ = [
    "MinMaxStats",
    "SimulatedDataset",
    "Simulation",
    "PhysicsParameter",
    "SpringsDataset",
    "ChargedDataset",
    "KuramotoDataset",
    "ProximityDataset",
    "SYSTEMS",
    "get_system",
    "physics_parameters",
    "TrajectoryDataset",
    "SPLIT_FILES",
    "load_splits",
    "read_trajectories",
    "Relations",
    "read_asf",
    "read_amc",
    "joint_positions",
    "load_mocap",
    "MocapDataset",
    "MocapProtocol",
    "MOCAP_PROTOCOLS",
    "mocap_splits",
]

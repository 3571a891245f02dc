r"""PyG datasets of simulated and recorded interacting systems."""
from torch_nri.datasets.mocap import joint_positions, load_mocap, read_amc, read_asf
from torch_nri.datasets.normalization import MinMaxStats
from torch_nri.datasets.simulated import SimulatedDataset
from torch_nri.datasets.systems import ChargedDataset, KuramotoDataset, SpringsDataset
from torch_nri.datasets.trajectory import TrajectoryDataset

__all__ = [
    "MinMaxStats",
    "SimulatedDataset",
    "SpringsDataset",
    "ChargedDataset",
    "KuramotoDataset",
    "TrajectoryDataset",
    "read_asf",
    "read_amc",
    "joint_positions",
    "load_mocap",
]

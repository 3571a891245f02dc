r"""Training and evaluation of NRI models with the papers' protocol."""
from torch_nri.training.builders import (build_datasets, build_model, dataset_options,
                                         model_config, trajectory_options)
from torch_nri.training.config import TrainConfig
from torch_nri.training.evaluation import evaluate, evaluate_run, run_dataset
from torch_nri.training.inference import (InferredGraph, infer_graph, plot_inferred_graph,
                                          score_shared_graph)
from torch_nri.training.loop import train
from torch_nri.training.registry import DECODERS, ENCODERS, register_decoder, register_encoder
from torch_nri.training.run_dir import RunDirectory

__all__ = ["TrainConfig", "RunDirectory", "train", "evaluate_run", "evaluate", "run_dataset",
           "infer_graph", "InferredGraph", "score_shared_graph", "plot_inferred_graph",
           "build_datasets", "build_model", "dataset_options", "trajectory_options",
           "model_config", "register_decoder", "register_encoder", "ENCODERS", "DECODERS"]

r"""Training and evaluation of NRI models with the papers' protocol."""
from torch_nri.training.builders import build_datasets, build_model, model_config
from torch_nri.training.config import TrainConfig
from torch_nri.training.evaluation import evaluate, training_decoder_kwargs
from torch_nri.training.loop import evaluate_run, load_config, train

__all__ = ["TrainConfig", "train", "evaluate_run", "evaluate", "load_config",
           "build_datasets", "build_model", "model_config", "training_decoder_kwargs"]

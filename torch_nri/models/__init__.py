from torch_nri.models.base import (ConfigurableModel, NRIOutput, describe_model, encode_edges,
                                   load_model, model_from_checkpoint, read_checkpoint,
                                   save_model)
from torch_nri.models.nri import NRI
from torch_nri.models.dnri import DNRI, DNRIOutput
from torch_nri.models.fixed_graph import FixedGraphModel
from torch_nri.models.supervised_encoder import SupervisedEncoder

__all__ = ["NRI", "DNRI", "NRIOutput", "DNRIOutput", "FixedGraphModel", "SupervisedEncoder",
           "ConfigurableModel", "describe_model", "encode_edges", "load_model",
           "model_from_checkpoint", "read_checkpoint", "save_model"]

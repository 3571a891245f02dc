from torch_nri.models.base import (ConfigurableModel, NRIOutput, encode_edges, load_model,
                                   read_checkpoint)
from torch_nri.models.nri import NRI
from torch_nri.models.dnri import DNRI, DNRIOutput
from torch_nri.models.fixed_graph import FixedGraphModel
from torch_nri.models.supervised_encoder import SupervisedEncoder

__all__ = ["NRI", "DNRI", "NRIOutput", "DNRIOutput", "FixedGraphModel", "SupervisedEncoder",
           "ConfigurableModel", "encode_edges", "load_model", "read_checkpoint"]

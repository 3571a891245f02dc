from torch_nri.models.base import ConfigurableModel, load_model
from torch_nri.models.nri import NRI, NRIOutput
from torch_nri.models.fixed_graph import FixedGraphModel
from torch_nri.models.supervised_encoder import SupervisedEncoder

__all__ = ["NRI", "NRIOutput", "FixedGraphModel", "SupervisedEncoder", "ConfigurableModel",
           "load_model"]

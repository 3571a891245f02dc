from torch_nri.models.nri import NRI, NRIOutput

__all__ = ["NRI", "NRIOutput"]

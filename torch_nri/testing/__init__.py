"""Testing utilities: the dense formulation of NRI
(:mod:`torch_nri.testing.dense_reference`), against which the sparse layers are
tested and benchmarked."""

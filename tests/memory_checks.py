"""Following the tensors that a step allocates, for the memory tests."""
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class AllocationTracker(TorchDispatchMode):
    """The storages that the operations run under it create: the largest one
    and the peak of the bytes alive together (each storage is followed to
    its release, wherever autograd keeps it)."""
    def __init__(self):
        super().__init__()
        self.live, self.current, self.peak, self.largest = {}, 0, 0, 0

    def _release(self, key):
        self.current -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)}
        out = func(*args, **kwargs)
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size == 0 or key in inputs or key in self.live:  # a view or in place
                continue
            self.live[key] = size
            self.current += size
            self.peak, self.largest = max(self.peak, self.current), max(self.largest, size)
            weakref.finalize(storage, self._release, key)
        return out

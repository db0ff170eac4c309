"""neurona: a readable deep-learning library with PyTorch's API, on NumPy (and CuPy).

    import neurona as nr
    x = nr.randn(4, 3, requires_grad=True)
    loss = (x @ x.T).sum()
    loss.backward()        # x.grad now holds dloss/dx
"""
from . import backend, dtypes, cuda
from .backend import Device, device
from .dtypes import (float16, float32, float64, int8, uint8, int16, int32, int64, bool_,
                     get_default_dtype, set_default_dtype, DType)
from .dtypes import bool_ as bool  # noqa: A001  (neurona.bool, as torch.bool)
from .tensor import Tensor
from . import autograd
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .random import Generator, default_generator, manual_seed, seed, initial_seed, \
    get_rng_state, set_rng_state
from .creation import *        # noqa: F401,F403
from . import ops
from .ops import *             # noqa: F401,F403
from . import nn
from . import utils
from . import optim
from .serialization import save, load
from . import parallel
from .parallel import get_num_threads, set_num_threads

float = float32   # noqa: A001  (torch.float)
double = float64
long = int64
half = float16

__version__ = "0.1.0"

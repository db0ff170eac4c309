"""The differentiable ops, grouped by kind.  Importing this package installs each op as a
Tensor method (``x.exp()``, ``x @ w``, ``x.sum(dim=1)`` ...)."""
from .arithmetic import *      # noqa: F401,F403
from .pointwise import *       # noqa: F401,F403
from .reduce import *          # noqa: F401,F403
from .shape import *           # noqa: F401,F403
from .indexing import *        # noqa: F401,F403
from .softmax import *         # noqa: F401,F403
from .losses import *          # noqa: F401,F403
from .dropout import *         # noqa: F401,F403
from .linalg import *         # noqa: F401,F403
from .conv import *           # noqa: F401,F403
from .pooling import *        # noqa: F401,F403

"""Float64 numpy definitions of every op (direct loops or einsum, never the kernel's algorithm).

One file per op family; each defines ``<op>(...)`` and, where useful, ``<op>_backward(...)`` with the
same signatures as fastcnn.functional, all in float64.
"""
from ._util import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403

"""The array-level API: numpy in, numpy out (float32, NCHW), every op a C++ kernel.

Names, argument order and semantics follow PyTorch's ``torch.nn.functional``. Each op has a
``<op>_backward(dy, <forward's array arguments>, <same keywords>)`` returning one gradient per
array argument that has one.

Recipe — adding an op: write the kernel (csrc/cpu/kernels/<fam>.cpp), its front end
(csrc/ops/<fam>.cpp) and binding (csrc/bindings/<fam>.cpp); then here, in <fam>.py, validate the
arguments with the helpers in ``_validate``, allocate the outputs and call ``_C``; add the float64
definition to tests/reference/<fam>.py and the tests to tests/test_<fam>.py.
"""
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403

"""float64 references: activation."""
import numpy as np  # noqa: F401

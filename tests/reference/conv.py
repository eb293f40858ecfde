"""float64 references: conv."""
import numpy as np  # noqa: F401

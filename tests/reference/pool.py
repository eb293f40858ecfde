"""float64 references: pool."""
import numpy as np  # noqa: F401

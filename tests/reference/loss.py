"""float64 references: loss."""
import numpy as np  # noqa: F401

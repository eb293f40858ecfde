"""float64 references: linear."""
import numpy as np  # noqa: F401

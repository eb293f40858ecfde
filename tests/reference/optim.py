"""float64 references: optim."""
import numpy as np  # noqa: F401

"""float64 references: norm."""
import numpy as np  # noqa: F401

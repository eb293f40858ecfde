"""``plot_history(history, path)``: loss and accuracy curves per epoch as a PNG.

Drawn with matplotlib's Agg canvas directly (no pyplot), so it works without a display and does
not change the backend of a notebook or GUI session.
"""
from __future__ import annotations

import os

__all__ = ["plot_history"]


def _columns(history) -> tuple[list, dict[str, list]]:
    """(epoch numbers, {name: values}) from a History, its .history dict, or a list of per-epoch dicts."""
    if hasattr(history, "history"):
        epochs = [e + 1 for e in getattr(history, "epoch", [])]
        history = history.history
    else:
        epochs = []
    if isinstance(history, (list, tuple)):
        rows = list(history)
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
        keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
        return epochs, {k: [r.get(k) for r in rows] for k in keys}
    if not isinstance(history, dict):
        raise TypeError(f"plot_history: argument 'history' got {type(history).__name__}, needed a History, "
                        f"a dict of per-epoch lists or a list of per-epoch dicts")
    n = max((len(v) for v in history.values()), default=0)
    return (epochs if len(epochs) == n else list(range(1, n + 1))), dict(history)


def plot_history(history, path, title: str | None = None) -> str:
    """Write loss (left) and accuracy (right) curves, training and validation, to the PNG `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs, columns = _columns(history)
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    for ax, metric, label in ((fig.add_subplot(1, 2, 1), "loss", "loss"),
                              (fig.add_subplot(1, 2, 2), "accuracy", "accuracy")):
        for key, style in ((metric, "o-"), ("val_" + metric, "s--")):
            values = columns.get(key)
            if values and any(v is not None for v in values):
                ax.plot(epochs[:len(values)], values, style, label="validation" if key.startswith("val_") else "training",
                        markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if ax.get_lines():
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = os.fspath(path)
    fig.savefig(path, format="png")
    return path

"""Optimizers and learning-rate schedules, on the C++ step kernels of ``fastcnn.functional``.

An optimizer updates every trainable ``Param`` (``value`` in place, from ``grad``) with PyTorch's
semantics. Its state (velocity, m, v, square_avg, step count per parameter) is exposed as plain
numpy arrays by ``state_dict()`` and its settings as a JSON-able dict by ``get_config()``, which is
what ``model.save`` stores.

Schedules are pure functions of (epoch, iteration), so resuming from a checkpoint reproduces them:
``SGD(0.05, momentum=0.9, schedule=StepLR(5, 0.1))``. The fit loop sets ``optimizer.epoch`` at the
start of each epoch; ``optimizer.iterations`` counts steps. ``StepLR`` and ``CosineAnnealing``
change the rate per epoch, ``OneCycle`` per step.

Recipe — adding an optimizer: subclass Optimizer, list its slot arrays in ``slots``, implement
``_update(param, state, lr)`` calling a step kernel, add its hyper-parameters to ``get_config`` and
register it in ``_OPTIMIZERS``.
"""
from __future__ import annotations

import math

import numpy as np

from . import _C
from . import _tensor
from . import functional as F

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Schedule", "StepLR", "CosineAnnealing",
           "OneCycle", "get"]


# ---------------------------------------------------------------------------- schedules

class Schedule:
    """Maps (base_lr, epoch, iteration) to the learning rate to use at that step."""
    per = "epoch"

    def __call__(self, base_lr: float, epoch: int, iteration: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"class": type(self).__name__, **self._config()}

    def _config(self) -> dict:
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._config().items())})"


class StepLR(Schedule):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, step_size: int, gamma: float = 0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: argument 'step_size' got {step_size!r}, needed an int >= 1")
        self.step_size, self.gamma = step_size, float(gamma)

    def __call__(self, base_lr, epoch, iteration):
        return base_lr * self.gamma ** (epoch // self.step_size)

    def _config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class CosineAnnealing(Schedule):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, per epoch."""

    def __init__(self, T_max: int, eta_min: float = 0.0):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealing: argument 'T_max' got {T_max!r}, needed an int >= 1")
        self.T_max, self.eta_min = T_max, float(eta_min)

    def __call__(self, base_lr, epoch, iteration):
        t = min(epoch, self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2

    def _config(self):
        return {"T_max": self.T_max, "eta_min": self.eta_min}


class OneCycle(Schedule):
    """PyTorch's OneCycleLR (cosine, two phases) with max_lr = the optimizer's lr, per step.

    total_steps=None lets ``fit`` set it to epochs * steps per epoch.
    """
    per = "step"

    def __init__(self, total_steps: int | None = None, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        if total_steps is not None and (isinstance(total_steps, bool) or not isinstance(total_steps, int)
                                        or total_steps < 1):
            raise ValueError(f"OneCycle: argument 'total_steps' got {total_steps!r}, needed an int >= 1 or None")
        if not 0 < pct_start < 1:
            raise ValueError(f"OneCycle: argument 'pct_start' got {pct_start!r}, needed a number in (0, 1)")
        self.total_steps, self.pct_start = total_steps, float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)

    def __call__(self, base_lr, epoch, iteration):
        if self.total_steps is None:
            raise ValueError("OneCycle: 'total_steps' is not set (give it, or let fit() set it)")
        initial = base_lr / self.div_factor
        final = initial / self.final_div_factor
        warm_end = self.pct_start * self.total_steps - 1
        step = min(iteration, self.total_steps - 1)
        if step <= warm_end:
            start, end, frac = initial, base_lr, step / max(warm_end, 1e-12)
        else:
            start, end = base_lr, final
            frac = (step - warm_end) / max(self.total_steps - 1 - warm_end, 1e-12)
        return end + (start - end) * (1 + math.cos(math.pi * frac)) / 2

    def _config(self):
        return {"total_steps": self.total_steps, "pct_start": self.pct_start,
                "div_factor": self.div_factor, "final_div_factor": self.final_div_factor}


_SCHEDULES = {c.__name__: c for c in (StepLR, CosineAnnealing, OneCycle)}


def _schedule_from_config(config: dict | None) -> Schedule | None:
    if config is None:
        return None
    config = dict(config)
    cls = _SCHEDULES.get(config.pop("class", None))
    if cls is None:
        raise ValueError(f"optim: unknown schedule config {config!r}")
    return cls(**config)


# ---------------------------------------------------------------------------- optimizers

_F32 = np.dtype(np.float32)  # the one native float32 dtype object


def _plain(a) -> bool:
    """a is a float32 C-contiguous numpy array (what the step kernels take as it is)."""
    return type(a) is np.ndarray and a.dtype is _F32 and a.flags.c_contiguous


def _real(v, cls: str, name: str, lo: float = 0.0, hi: float | None = None, hi_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{cls}: argument '{name}' got {v!r} ({type(v).__name__}), needed a real number")
    v = float(v)
    if not (v >= lo) or (hi is not None and (v > hi or (hi_open and v == hi))):
        bound = f">= {lo:g}" if hi is None else f"in [{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{cls}: argument '{name}' got {v!r}, needed a number {bound}")
    return v


def _zeros_like(a):
    """A zero float32 array of a's shape on a's side."""
    cuda = _tensor.device_module(a)
    if cuda is None:
        return np.zeros_like(a)
    z = cuda.empty(tuple(a.shape), "float32")
    cuda.fill(z, 0.0)
    return z


class Optimizer:
    """Base class: per-parameter slot arrays keyed by ``Param.name``, a step counter, a schedule."""
    slots: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0, schedule: Schedule | None = None):
        cls = type(self).__name__
        self.lr = _real(lr, cls, "lr")
        self.weight_decay = _real(weight_decay, cls, "weight_decay")
        if schedule is not None and not isinstance(schedule, Schedule):
            raise TypeError(f"{cls}: argument 'schedule' got {type(schedule).__name__}, needed a "
                            f"fastcnn.optim.Schedule or None")
        self.schedule = schedule
        self.epoch = 0          # set by fit at the start of each epoch (for per-epoch schedules)
        self.iterations = 0     # steps taken
        self.state: dict[str, dict] = {}
        self._pairs_cache = None  # SGD.step's (params list, state dict, [(param, state)])

    def current_lr(self) -> float:
        """The learning rate the next step uses."""
        if self.schedule is None:
            return self.lr
        return float(self.schedule(self.lr, self.epoch, self.iterations))

    def step(self, params) -> None:
        """Update every trainable Param in place from its grad."""
        lr = self.current_lr()
        for p in params:
            if not p.trainable:
                continue
            state = self.state.get(p.name)
            if state is None:
                state = {s: _zeros_like(p.value) for s in self.slots}
                state["step"] = 0
                self.state[p.name] = state
            state["step"] += 1
            self._update(p, state, lr)
        self.iterations += 1

    def _update(self, param, state: dict, lr: float) -> None:
        raise NotImplementedError

    # -- serialization: plain arrays + a JSON-able config

    def get_config(self) -> dict:
        return {"class": type(self).__name__, "lr": self.lr, "weight_decay": self.weight_decay,
                "schedule": None if self.schedule is None else self.schedule.get_config(),
                "epoch": self.epoch, "iterations": self.iterations, **self._config()}

    def _config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        config = dict(config)
        klass = _OPTIMIZERS.get(config.pop("class", None))
        if klass is None or (cls is not Optimizer and not issubclass(klass, cls)):
            raise ValueError(f"optim: config names no known optimizer: {config!r}")
        epoch, iterations = config.pop("epoch", 0), config.pop("iterations", 0)
        config["schedule"] = _schedule_from_config(config.get("schedule"))
        opt = klass(**config)
        opt.epoch, opt.iterations = int(epoch), int(iterations)
        return opt

    def state_dict(self) -> dict[str, dict[str, np.ndarray]]:
        """{param name: {slot: array, 'step': int64 scalar array}} — copies."""
        return {name: {k: np.array(v, dtype=np.int64) if k == "step" else np.array(_tensor.host(v), copy=True)
                       for k, v in st.items()} for name, st in self.state.items()}

    def _move(self, cuda) -> None:
        """Put the slot arrays on the device of the CUDA module cuda (None: the host); model.to calls it."""
        for st in self.state.values():
            for s in self.slots:
                st[s] = _tensor.to(st[s], cuda)

    def load_state_dict(self, state: dict[str, dict[str, np.ndarray]]) -> None:
        new = {}
        for name, st in state.items():
            missing = [s for s in (*self.slots, "step") if s not in st]
            if missing:
                raise ValueError(f"{type(self).__name__}.load_state_dict: parameter '{name}' lacks {missing}")
            new[name] = {s: np.ascontiguousarray(st[s], dtype=np.float32).copy() for s in self.slots}
            new[name]["step"] = int(np.asarray(st["step"]))
        self.state = new

    def __repr__(self):
        cfg = {k: v for k, v in self.get_config().items() if k not in ("class", "epoch", "iterations")}
        cfg["schedule"] = self.schedule
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum and L2 weight decay, as torch.optim.SGD."""
    slots = ("velocity",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, schedule: Schedule | None = None):
        super().__init__(lr, weight_decay, schedule)
        self.momentum = _real(momentum, "SGD", "momentum", 0.0, 1.0)
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: argument 'nesterov' got True, needed momentum > 0 with it")
        self.nesterov = bool(nesterov)

    def step(self, params) -> None:
        """Update every trainable Param in place from its grad: one _C.sgd_step_many call for all of
        them when they are numpy arrays with their state made (every step after the first), the
        same bits as the per-parameter calls of Optimizer.step."""
        pairs = self._pairs(params)
        values, grads, velocities, states = [], [], [], []
        for p, st in pairs:
            if not p.trainable:
                continue
            value = p.value
            if st is None or type(value) is not np.ndarray:  # a new parameter, or on the device
                self._pairs_cache = None
                return super().step(params)
            values.append(value)
            grads.append(p.grad)
            velocities.append(st["velocity"])
            states.append(st)
        try:
            _C.sgd_step_many(values, grads, velocities, self.current_lr(), self.momentum, self.nesterov,
                             self.weight_decay)
        except (ValueError, TypeError):
            # nothing was updated (every array is checked first): the per-parameter path converts
            # what it may (a float64 grad) and raises its own error for the rest
            return super().step(params)
        for st in states:
            st["step"] += 1
        self.iterations += 1

    def _pairs(self, params) -> list:
        """[(param, its state or None)] for the list params, kept while the caller passes the same
        list and the state dict is the same (fit passes one list every step; a param's name, the
        state key, is a property that costs a string format per call)."""
        cached = self._pairs_cache
        if cached is not None and cached[0] is params and cached[1] is self.state:
            return cached[2]
        pairs = [(p, self.state.get(p.name)) for p in params]
        self._pairs_cache = (params, self.state, pairs)
        return pairs

    def _update(self, p, state, lr):
        value, grad, velocity = p.value, p.grad, state["velocity"]
        if _plain(value) and _plain(grad) and type(velocity) is np.ndarray:
            # the arrays the optimizer and Param made: straight to the kernel (per-step path); the
            # binding still checks dtypes, shapes and writability
            _C.sgd_step(value, grad, velocity, lr, self.momentum, self.nesterov, self.weight_decay)
            return
        F.sgd_step(value, grad, velocity, lr, momentum=self.momentum, nesterov=self.nesterov,
                   weight_decay=self.weight_decay)

    def _config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient, as torch.optim.Adam."""
    slots = ("m", "v")
    decoupled = False

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, schedule: Schedule | None = None):
        super().__init__(lr, weight_decay, schedule)
        cls = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{cls}: argument 'betas' got {betas!r}, needed a pair (beta1, beta2)")
        self.betas = (_real(betas[0], cls, "betas[0]", 0.0, 1.0, hi_open=True),
                      _real(betas[1], cls, "betas[1]", 0.0, 1.0, hi_open=True))
        self.eps = _real(eps, cls, "eps")

    def _update(self, p, state, lr):
        value, grad, m, v = p.value, p.grad, state["m"], state["v"]
        if _plain(value) and _plain(grad) and type(m) is np.ndarray and type(v) is np.ndarray:
            # straight to the kernel, as SGD (the binding checks dtypes, shapes and hyperparameters)
            _C.adam_step(value, grad, m, v, state["step"], lr, self.betas[0], self.betas[1], self.eps,
                         self.weight_decay, self.decoupled)
            return
        F.adam_step(value, grad, m, v, state["step"], lr=lr, beta1=self.betas[0],
                    beta2=self.betas[1], eps=self.eps, weight_decay=self.weight_decay, decoupled=self.decoupled)

    def _config(self):
        return {"betas": list(self.betas), "eps": self.eps}


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW."""
    decoupled = True

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, schedule: Schedule | None = None):
        super().__init__(lr, betas, eps, weight_decay, schedule)


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop (no momentum, not centered)."""
    slots = ("square_avg",)

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 schedule: Schedule | None = None):
        super().__init__(lr, 0.0, schedule)
        self.alpha = _real(alpha, "RMSprop", "alpha", 0.0, 1.0)
        self.eps = _real(eps, "RMSprop", "eps")

    def _update(self, p, state, lr):
        value, grad, sq = p.value, p.grad, state["square_avg"]
        if _plain(value) and _plain(grad) and type(sq) is np.ndarray:
            _C.rmsprop_step(value, grad, sq, lr, self.alpha, self.eps)  # as SGD: straight to the kernel
            return
        F.rmsprop_step(value, grad, sq, lr=lr, alpha=self.alpha, eps=self.eps)

    def get_config(self):
        config = super().get_config()
        del config["weight_decay"]
        return config

    def _config(self):
        return {"alpha": self.alpha, "eps": self.eps}


_OPTIMIZERS = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop)}
# Names accepted by compile() and the CLI; "momentum" is SGD with momentum 0.9.
_NAMES = {"sgd": lambda: SGD(0.01), "momentum": lambda: SGD(0.01, momentum=0.9), "adam": Adam,
          "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier) -> Optimizer:
    """An Optimizer from an instance (returned as is) or a name: sgd, momentum, adam, adamw, rmsprop."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"optim.get: argument 'optimizer' got {identifier!r}, needed an Optimizer or one of "
                     f"{sorted(_NAMES)}")

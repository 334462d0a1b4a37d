"""Optimizers and regularizers for :meth:`dlc.Graph.train`.

The compiler lowers the optimizer into the train step itself (its state
becomes persistent tensors of the executable), so these only describe it.
"""

from typing import Optional, Sequence

from .graph import _number


class Optimizer:
    """An Optimizer message of ir/dlc.proto, as protobuf text."""

    __slots__ = ("text",)

    def __init__(self, kind: str, learning_rate: float, **fields: Optional[float]):
        parts = [f'kind: "{kind}"', f"learning_rate: {_number(learning_rate)}"]
        parts += [f"{k}: {_number(v)}" for k, v in fields.items() if v is not None]
        self.text = " ".join(parts)

    def __repr__(self) -> str:
        return f"dlc.optim.Optimizer({self.text!r})"


def sgd(learning_rate: float, weight_decay: Optional[float] = None) -> Optimizer:
    """Plain gradient descent."""
    return Optimizer("sgd", learning_rate, weight_decay=weight_decay)


def momentum(learning_rate: float, momentum: float = 0.9) -> Optimizer:
    """Gradient descent with (heavy-ball) momentum."""
    return Optimizer("momentum", learning_rate, momentum=momentum)


def nesterov(learning_rate: float, momentum: float = 0.9) -> Optimizer:
    """Nesterov's accelerated gradient."""
    return Optimizer("nesterov", learning_rate, momentum=momentum)


def adagrad(learning_rate: float, epsilon: Optional[float] = None) -> Optimizer:
    """AdaGrad."""
    return Optimizer("adagrad", learning_rate, epsilon=epsilon)


def rmsprop(learning_rate: float, rho: Optional[float] = None, epsilon: Optional[float] = None) -> Optimizer:
    """RMSProp."""
    return Optimizer("rmsprop", learning_rate, rho=rho, epsilon=epsilon)


def adadelta(learning_rate: float = 1.0, rho: Optional[float] = None, epsilon: Optional[float] = None) -> Optimizer:
    """AdaDelta."""
    return Optimizer("adadelta", learning_rate, rho=rho, epsilon=epsilon)


def adam(learning_rate: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> Optimizer:
    """Adam (Kingma and Ba)."""
    return Optimizer("adam", learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon)


def adamw(learning_rate: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
          weight_decay: float = 0.01) -> Optimizer:
    """Adam with decoupled weight decay (Loshchilov and Hutter)."""
    return Optimizer("adamw", learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, weight_decay=weight_decay)


class Regularizer:
    """A Regularizer message: l1/l2 penalties on some parameters (all when none are named)."""

    __slots__ = ("text",)

    def __init__(self, l1: float = 0.0, l2: float = 0.0, params: Sequence = ()):
        names = [p if isinstance(p, str) else p.name for p in params]
        parts = [f'params: "{n}"' for n in names]
        if l1:
            parts.append(f"l1: {_number(l1)}")
        if l2:
            parts.append(f"l2: {_number(l2)}")
        self.text = " ".join(parts)


def l1(strength: float, params: Sequence = ()) -> Regularizer:
    """strength * sum |w| added to the loss, over ``params`` (default: every trainable one)."""
    return Regularizer(l1=strength, params=params)


def l2(strength: float, params: Sequence = ()) -> Regularizer:
    """strength * sum w^2 added to the loss, over ``params`` (default: every trainable one)."""
    return Regularizer(l2=strength, params=params)

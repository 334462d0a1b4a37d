"""Layers: a line each for the usual building blocks, emitting ordinary ops
and parameters into a :class:`dlc.Graph`.

Each layer named ``name`` (default: the layer kind and the next free
number, ``dense1``, ``conv2``) makes parameters ``name.w`` and ``name.b``
(batch norm: ``name.gamma``, ``name.beta`` and the frozen running
statistics ``name.mean``, ``name.var``) and returns the Value ``name``.
"""

from typing import Optional, Sequence, Union

from . import init as _init
from .graph import Graph, Value

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "softplus", "elu", "leaky_relu", "log_sigmoid", "softmax",
                "log_softmax")


def _pair(v: Union[int, Sequence[int]]) -> list:
    return [v, v] if isinstance(v, int) else list(v)


def activation(x: Value, kind: Optional[str], name: Optional[str] = None) -> Value:
    """``kind`` (relu, sigmoid, tanh, gelu, softplus, elu, leaky_relu, log_sigmoid,
    softmax, log_softmax) applied to ``x``; ``x`` itself for None."""
    if kind is None:
        return x
    if kind not in _ACTIVATIONS:
        raise ValueError(f"unknown activation '{kind}' (dlc has {', '.join(_ACTIVATIONS)})")
    return x.graph.op(kind, x, name=name)


def _finish(g: Graph, pre_name: str, emit, act: Optional[str], name: str) -> Value:
    """Emits the layer's affine part named ``name`` (or ``name.z`` before an activation)."""
    if act is None:
        return emit(name)
    return activation(emit(pre_name), act, name=name)


def dense(g: Graph, x: Value, units: int, activation: Optional[str] = None, init="he", bias: bool = True,
          name: Optional[str] = None) -> Value:
    """``activation(x @ W + b)`` with W of shape [in, units] (``init``, He by default) and b zeros."""
    name = name or g.fresh_name("dense")
    w = g.param(f"{name}.w", [x.shape[-1], units], init=init)

    def emit(out):
        if not bias:
            return g.op("matmul", x, w, name=out)
        b = g.param(f"{name}.b", [units], init="zeros")
        return g.op("add", g.op("matmul", x, w), b, name=out)

    return _finish(g, f"{name}.z", emit, activation, name)


def conv2d(g: Graph, x: Value, filters: int, kernel: Union[int, Sequence[int]], stride=1, padding=0, dilation=1,
           activation: Optional[str] = None, init="he", bias: bool = True, name: Optional[str] = None) -> Value:
    """2-D convolution of an NCHW input with ``filters`` kernels of size ``kernel``
    (weight OIHW, PyTorch's layout), then ``activation``."""
    name = name or g.fresh_name("conv")
    kh, kw = _pair(kernel)
    w = g.param(f"{name}.w", [filters, x.shape[1], kh, kw], init=init)
    inputs = [x, w]
    if bias:
        inputs.append(g.param(f"{name}.b", [filters], init="zeros"))
    attrs = dict(strides=_pair(stride), pads=_pair(padding), dilations=_pair(dilation))
    return _finish(g, f"{name}.z", lambda out: g.op("conv2d", *inputs, name=out, **attrs), activation, name)


def max_pool2d(x: Value, kernel: Union[int, Sequence[int]], stride=None, padding=0,
               name: Optional[str] = None) -> Value:
    """Max over windows of ``kernel`` (stride: the kernel by default)."""
    return x.graph.op("max_pool2d", x, name=name or x.graph.fresh_name("pool"), kernel=_pair(kernel),
                      strides=_pair(stride) if stride is not None else None, pads=_pair(padding))


def avg_pool2d(x: Value, kernel: Union[int, Sequence[int]], stride=None, padding=0,
               name: Optional[str] = None) -> Value:
    """Mean over windows of ``kernel``, padding counted (PyTorch's default)."""
    return x.graph.op("avg_pool2d", x, name=name or x.graph.fresh_name("pool"), kernel=_pair(kernel),
                      strides=_pair(stride) if stride is not None else None, pads=_pair(padding))


def batch_norm(g: Graph, x: Value, momentum: Optional[float] = None, epsilon: Optional[float] = None,
               name: Optional[str] = None) -> Value:
    """Batch normalization over axis 1 (channels or features): batch statistics
    in train_step, running statistics in predict (docs/normalization.md)."""
    name = name or g.fresh_name("bn")
    c = x.shape[1]
    gamma = g.param(f"{name}.gamma", [c], init=_init.constant(1))
    beta = g.param(f"{name}.beta", [c], init="zeros")
    mean = g.param(f"{name}.mean", [c], init="zeros", frozen=True)
    var = g.param(f"{name}.var", [c], init=_init.constant(1), frozen=True)
    return g.op("batch_norm", x, gamma, beta, mean, var, name=name, momentum=momentum, epsilon=epsilon)


def dropout(x: Value, rate: float, name: Optional[str] = None) -> Value:
    """Zeroes each element with probability ``rate`` in train_step (scaling the
    rest by 1/(1-rate)); the identity in predict."""
    return x.graph.op("dropout", x, name=name, rate=rate)


def flatten(x: Value, name: Optional[str] = None) -> Value:
    """[batch, d1, d2, ...] to [batch, d1*d2*...]."""
    return x.graph.op("flatten", x, name=name)

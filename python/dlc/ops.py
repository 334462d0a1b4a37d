"""Every op of the compiler's registry as a function: ``dlc.ops.relu(x)``,
``dlc.ops.softmax(x, axis=-1)``, ``dlc.ops.matmul(a, b, transpose_b=True)``.

Each takes its input Values, then attributes as keyword arguments (checked
against the op's schema), and ``name=`` for its output. ``dlc.ops.names()``
lists the ops and ``dlc.ops.doc(op)`` says what one does. Ops with no
inputs (constant, iota) take ``graph=``.
"""

from typing import List

from . import _native
from .graph import Graph, Value


def names() -> List[str]:
    """Every registered op's name."""
    return list(_native.op_names())


def doc(op: str) -> str:
    """The op's one-line description and attributes, as ``dlc ops`` prints them."""
    min_in, max_in, outs, attrs, text = _native.op_info(op)
    attr_text = ", ".join(n + ("" if required else "?") for n, required in attrs)
    arity = str(min_in) if min_in == max_in else f"{min_in}-{max_in}"
    return f"{op}: {text} (inputs {arity}, outputs {outs}, attributes {{{attr_text}}})"


def _make(op: str):
    def emit(*inputs: Value, name=None, names=None, graph: Graph = None, **attrs):
        g = graph if graph is not None else next((v.graph for v in inputs if isinstance(v, Value)), None)
        if g is None:
            raise TypeError(f"dlc.ops.{op} has no Value input to take the graph from; pass graph=")
        return g.op(op, *inputs, name=name, names=names, **attrs)

    emit.__name__ = op
    emit.__qualname__ = op
    emit.__doc__ = doc(op)
    return emit


_cache = {}


def __getattr__(op: str):
    if op.startswith("__"):
        raise AttributeError(op)
    if op not in _cache:
        if op not in _native.op_names():
            raise AttributeError(f"dlc.ops has no op '{op}' (dlc.ops.names() lists them)")
        _cache[op] = _make(op)
    return _cache[op]


def __dir__():
    return sorted(set(globals()) | set(_native.op_names()))

"""Building models in Python: :class:`Graph` and :class:`Value`.

A :class:`Graph` is the same graph IR as a ``.pbtxt`` model file: every
call appends an op through the compiler's own graph builder, which infers
the output's type at once, so a shape error is raised at the line that made
it. ``g.to_text()`` prints the model as a ``.pbtxt`` file would hold it.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

from . import _native

#: The symbolic batch dimension of an input's shape; ``dlc.compile(batch=N)`` binds it.
batch = -1

_DTYPES = {"f32", "f64", "i32", "i64", "bool"}


def _dtype_name(dtype) -> str:
    """'f32' for 'f32', 'float32', numpy.float32 or numpy.dtype('float32')."""
    try:
        import numpy as np

        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = str(dtype)
    return {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64", "bool_": "bool"}.get(name, name)


def _number(v: float) -> str:
    """A float in protobuf text that reads back as the same double."""
    return repr(float(v))


class Value:
    """A tensor of a :class:`Graph`: an input, a parameter or an op's output.

    Arithmetic operators emit graph ops: ``a + b`` (add), ``a - b``, ``a * b``,
    ``a / b``, ``a @ b`` (matmul), ``-a``, ``a ** b``; a Python number becomes
    a scalar constant of the other operand's dtype.
    """

    __slots__ = ("graph", "name")

    def __init__(self, graph: "Graph", name: str):
        self.graph = graph
        self.name = name

    @property
    def dtype(self) -> str:
        """The element type: 'f32', 'f64', 'i32', 'i64' or 'bool'."""
        return self.graph._b.type(self.name)[0]

    @property
    def shape(self) -> tuple:
        """The dimensions; ``dlc.batch`` (-1) stands for the batch."""
        return tuple(self.graph._b.type(self.name)[1])

    def __repr__(self) -> str:
        dims = ",".join("batch" if d == batch else str(d) for d in self.shape)
        return f"<dlc.Value %{self.name}: {self.dtype}[{dims}]>"

    def _other(self, other) -> "Value":
        if isinstance(other, Value):
            return other
        if isinstance(other, (int, float)):
            return self.graph.constant(other, dtype=self.dtype)
        return NotImplemented

    def _binary(self, op, other, reverse=False):
        o = self._other(other)
        if o is NotImplemented:
            return o
        a, b = (o, self) if reverse else (self, o)
        return self.graph.op(op, a, b)

    def __add__(self, o): return self._binary("add", o)
    def __radd__(self, o): return self._binary("add", o, True)
    def __sub__(self, o): return self._binary("sub", o)
    def __rsub__(self, o): return self._binary("sub", o, True)
    def __mul__(self, o): return self._binary("mul", o)
    def __rmul__(self, o): return self._binary("mul", o, True)
    def __truediv__(self, o): return self._binary("div", o)
    def __rtruediv__(self, o): return self._binary("div", o, True)
    def __pow__(self, o): return self._binary("pow", o)
    def __matmul__(self, o): return self._binary("matmul", o)
    def __neg__(self): return self.graph.op("neg", self)


class Graph:
    """A model under construction: inputs, parameters, ops, outputs and a
    training section.

    >>> g = dlc.Graph()
    >>> x = g.input("x", [dlc.batch, 784])
    >>> y = g.label("label", [dlc.batch])
    >>> logits = dlc.layers.dense(g, x, 10)
    >>> g.output("probs", dlc.ops.softmax(logits))
    >>> g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.sgd(0.1))
    """

    def __init__(self, _builder=None):
        self._b = _builder if _builder is not None else _native.GraphBuilder()
        self._counters = {}

    @classmethod
    def load(cls, path: str) -> "Graph":
        """A model file (``.pbtxt`` text or ``.pb`` binary), verified, ready to extend or compile."""
        return cls(_native.GraphBuilder.load(str(path)))

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> "Graph":
        """A model from protobuf text; ``source`` names it in errors."""
        return cls(_native.GraphBuilder.parse(text, source))

    # --- inputs and parameters ------------------------------------------------
    def input(self, name: str, shape: Sequence[int], dtype="f32", role: str = "DATA") -> Value:
        """A graph input: role DATA (examples), LABEL, LEARNING_RATE or STEP."""
        return Value(self, self._b.input(name, list(shape), _dtype_name(dtype), role))

    def label(self, name: str, shape: Sequence[int], dtype="i32") -> Value:
        """A LABEL input: class indices (i32) by default, or real targets (f32)."""
        return self.input(name, shape, dtype, role="LABEL")

    def param(self, name: str, shape: Sequence[int], init="zeros", dtype="f32", frozen: bool = False) -> Value:
        """A parameter, trained unless ``frozen``; ``init`` is a name
        ('zeros', 'he', 'xavier') or one of :mod:`dlc.init`'s initializers."""
        from . import init as _init

        spec = getattr(_init, init)() if isinstance(init, str) else init
        if not isinstance(spec, _init.Initializer):
            raise TypeError(f"init must be an initializer name or a dlc.init initializer, not {init!r}")
        return Value(self, self._b.param(name, list(shape), _dtype_name(dtype), spec.text, frozen))

    def constant(self, value: float, dtype="f32", name: Optional[str] = None) -> Value:
        """A scalar constant, broadcastable against anything."""
        return self.op("constant", value=float(value), dtype=_dtype_name(dtype), name=name)

    # --- ops ----------------------------------------------------------------------
    def op(self, op: str, *inputs: Value, name: Optional[str] = None, names: Optional[Sequence[str]] = None,
           **attrs) -> Union[Value, tuple]:
        """Appends op ``op`` (any of ``dlc.ops.names()``) on ``inputs`` with
        attributes ``attrs``; returns its output, or a tuple for several.
        ``name`` (or ``names``) names the outputs; otherwise fresh names are made."""
        for v in inputs:
            if not isinstance(v, Value):
                raise TypeError(f"{op}: inputs must be dlc.Value, not {type(v).__name__}")
            if v.graph is not self:
                raise ValueError(f"{op}: input %{v.name} belongs to another graph")
        out_names = list(names) if names is not None else ([name] if name is not None else [])
        outs = self._b.op(op, [v.name for v in inputs], {k: v for k, v in attrs.items() if v is not None}, out_names)
        values = tuple(Value(self, n) for n in outs)
        return values[0] if len(values) == 1 else values

    def fresh_name(self, prefix: str) -> str:
        """``prefix`` followed by the first number no value of the graph uses (dense1, dense2, ...)."""
        n = self._counters.get(prefix, 0)
        while True:
            n += 1
            candidate = f"{prefix}{n}"
            if not self._b.has(candidate) and not self._b.has(candidate + ".w"):
                self._counters[prefix] = n
                return candidate

    # --- outputs and training -----------------------------------------------------------
    def output(self, name: Union[str, Value], value: Optional[Value] = None) -> Value:
        """Marks a value as a graph output. ``g.output("probs", v)`` also gives
        ``v`` that name (renaming the op output that made it)."""
        if value is None:
            if not isinstance(name, Value):
                raise TypeError("output(value) or output(name, value)")
            value = name
        elif isinstance(name, str) and name != value.name:
            self._b.rename(value.name, name)
            value.name = name
        self._b.output(value.name)
        return value

    def train(self, loss: Value, optimizer, regularization: Iterable = ()) -> None:
        """Sets the training section: minimize scalar ``loss`` with ``optimizer``
        (from :mod:`dlc.optim`), plus any ``dlc.optim.l1``/``l2`` regularizers."""
        from . import optim

        if not isinstance(optimizer, optim.Optimizer):
            raise TypeError(f"optimizer must come from dlc.optim, not {optimizer!r}")
        text = f'loss: "{loss.name}" optimizer {{ {optimizer.text} }}'
        for r in regularization:
            if not isinstance(r, optim.Regularizer):
                raise TypeError(f"regularization takes dlc.optim.l1/l2 terms, not {r!r}")
            text += f" regularization {{ {r.text} }}"
        self._b.set_training(text)

    # --- reading ----------------------------------------------------------------------
    def __getitem__(self, name: str) -> Value:
        self._b.type(name)  # raises dlc.Error naming the value when it is not there
        return Value(self, name)

    def __contains__(self, name: str) -> bool:
        return self._b.has(name)

    @property
    def outputs(self) -> list:
        """The graph outputs, as Values."""
        return [Value(self, n) for n in self._b.outputs()]

    def to_text(self) -> str:
        """The model in protobuf text, as a ``.pbtxt`` file holds it."""
        return self._b.to_text()

    def save(self, path: str) -> None:
        """Writes the model as a ``.pbtxt`` file that ``dlc compile`` reads."""
        with open(path, "w") as f:
            f.write(self.to_text())

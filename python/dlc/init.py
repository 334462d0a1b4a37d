"""Parameter initializers, for :meth:`dlc.Graph.param` and the layers."""

from .graph import _number


class Initializer:
    """An initializer of ir/dlc.proto's Initializer message, as protobuf text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"dlc.init.Initializer({self.text!r})"


def zeros() -> Initializer:
    """All zeros (biases)."""
    return Initializer("zeros {}")


def constant(value: float) -> Initializer:
    """Every element ``value``."""
    return Initializer(f"constant {{ value: {_number(value)} }}")


def normal(std: float, mean: float = 0.0) -> Initializer:
    """N(mean, std^2)."""
    return Initializer(f"normal {{ mean: {_number(mean)} std: {_number(std)} }}")


def uniform(lo: float, hi: float) -> Initializer:
    """U(lo, hi)."""
    return Initializer(f"uniform {{ lo: {_number(lo)} hi: {_number(hi)} }}")


def xavier() -> Initializer:
    """Glorot uniform, the usual choice before sigmoid or tanh."""
    return Initializer("xavier {}")


def he() -> Initializer:
    """Kaiming normal N(0, 2 / fan_in), the usual choice before ReLU."""
    return Initializer("he {}")


def data(values) -> Initializer:
    """Given values, in row-major order."""
    return Initializer("data { values: [" + ", ".join(_number(v) for v in values) + "] }")

"""Building models in Python: the same graph IR as the .pbtxt files, shapes
checked as ops are added, and errors that name the op and value."""

import numpy as np
import pytest

import dlc
from conftest import REPO


def mlp_mnist_in_python():
    """models/mlp_mnist.pbtxt, op by op, with its names."""
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 784])
    y = g.label("label", [dlc.batch])
    params = {}
    for name, shape, init in [("W1", [784, 256], "he"), ("b1", [256], "zeros"), ("W2", [256, 256], "he"),
                              ("b2", [256], "zeros"), ("W3", [256, 10], "he"), ("b3", [10], "zeros")]:
        params[name] = g.param(name, shape, init=init)
    h1 = dlc.ops.relu(dlc.ops.add(dlc.ops.matmul(x, params["W1"], name="xW1"), params["b1"], name="z1"), name="h1")
    h2 = dlc.ops.relu(dlc.ops.add(dlc.ops.matmul(h1, params["W2"], name="h1W2"), params["b2"], name="z2"), name="h2")
    logits = dlc.ops.add(dlc.ops.matmul(h2, params["W3"], name="h2W3"), params["b3"], name="logits")
    g.output(dlc.ops.softmax(logits, axis=-1, name="probs"))
    g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.adam(0.001))
    return g


def test_python_graph_compiles_to_the_same_executable_as_the_pbtxt():
    from_file = dlc.compile(REPO / "models" / "mlp_mnist.pbtxt", batch=32, target="cpu")
    from_python = dlc.compile(mlp_mnist_in_python(), batch=32, target="cpu")
    assert len(from_file) > 100000
    assert from_file.data == from_python.data


def test_to_text_reads_back_as_the_same_model():
    g = mlp_mnist_in_python()
    again = dlc.Graph.parse(g.to_text(), "round trip")
    assert again.to_text() == g.to_text()
    assert dlc.compile(again, batch=8, target="ref").data == dlc.compile(g, batch=8, target="ref").data


def test_layers_build_a_trainable_cnn():
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 1, 28, 28])
    y = g.label("label", [dlc.batch])
    h = dlc.layers.conv2d(g, x, 4, 3, padding=1, activation="relu")
    h = dlc.layers.batch_norm(g, h)
    h = dlc.layers.max_pool2d(h, 2)
    h = dlc.layers.dropout(dlc.layers.flatten(h), 0.25)
    assert h.shape == (dlc.batch, 4 * 14 * 14)
    logits = dlc.layers.dense(g, h, 10)
    g.output("probs", dlc.ops.softmax(logits))
    g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.sgd(0.05))
    m = dlc.load(dlc.compile(g, batch=16))
    assert set(m.params.names(trainable_only=True)) == {"conv1.w", "conv1.b", "bn1.gamma", "bn1.beta",
                                                        "dense1.w", "dense1.b"}
    assert not {"bn1.mean", "bn1.var"} & set(m.params.names(trainable_only=True))
    rng = np.random.default_rng(0)
    xb = rng.random((16, 1, 28, 28), dtype=np.float32)
    yb = rng.integers(0, 10, 16)
    losses = [float(m.train_step(x=xb, label=yb)["loss"]) for _ in range(15)]
    assert losses[-1] < losses[0] * 0.5, losses


def test_operators_and_constants():
    g = dlc.Graph()
    a = g.input("a", [dlc.batch, 3])
    out = g.output("out", (a * 2.0 + 1.0) / a - a ** 2.0)
    assert out.name == "out" and out.shape == (dlc.batch, 3)
    m = dlc.load(dlc.compile(g, batch=2, target="ref"))
    x = np.array([[1, 2, 3], [0.5, -1, 4]], np.float32)
    np.testing.assert_allclose(m.predict(a=x), (x * 2 + 1) / x - x ** 2, rtol=1e-6)


def test_shape_errors_name_the_op():
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 5])
    w = g.param("w", [4, 3])
    with pytest.raises(dlc.Error, match=r"matmul"):
        dlc.ops.matmul(x, w)
    with pytest.raises(dlc.Error, match="already has a value named 'x'"):
        g.input("x", [1])
    with pytest.raises(dlc.Error, match="softmax has no attribute 'axes'"):
        dlc.ops.softmax(x, axes=[1])
    with pytest.raises(dlc.Error, match="attribute 'rate' takes a number"):
        dlc.ops.dropout(x, rate="half")
    with pytest.raises(AttributeError, match="no op 'relux'"):
        dlc.ops.relux(x)
    with pytest.raises(dlc.Error, match="unknown dtype 'f16'"):
        g.input("y", [2], dtype="f16")


def test_compile_errors_are_dlc_errors():
    g = dlc.Graph()
    g.input("x", [dlc.batch, 5])
    with pytest.raises(dlc.Error, match="no outputs and no training loss"):
        dlc.compile(g, batch=2)
    with pytest.raises(dlc.Error, match="cannot open|No such file"):
        dlc.compile("/nonexistent/model.pbtxt")


def test_a_loaded_model_can_be_extended():
    g = dlc.Graph.load(REPO / "models" / "mlp_mnist.pbtxt")
    assert g["logits"].shape == (dlc.batch, 10)
    g.output(dlc.ops.argmax(g["logits"], axis=-1, name="class"))
    m = dlc.load(dlc.compile(g, batch=4, training=False))
    out = m.predict(x=np.zeros((4, 784), np.float32))
    assert out["class"].shape == (4,) and out["probs"].shape == (4, 10)


def test_idx_reader_names_a_bad_file(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(ValueError, match="3 bytes of data, expected 5"):
        dlc.datasets.load_idx(bad)
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        dlc.datasets.load_idx(bad)

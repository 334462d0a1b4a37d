"""PyTorch tensors in and out through DLPack (skipped where PyTorch is not installed)."""

import numpy as np
import pytest

import dlc

torch = pytest.importorskip("torch")


def model():
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 6])
    y = g.label("label", [dlc.batch])
    logits = dlc.layers.dense(g, x, 3)
    g.output("probs", dlc.ops.softmax(logits))
    g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.sgd(0.5))
    return dlc.load(dlc.compile(g, batch=4))


def test_torch_tensors_train_and_predict_without_a_copy():
    m = model()
    x = torch.randn(4, 6)
    y = torch.tensor([0, 1, 2, 1], dtype=torch.int32)
    before = dlc._native.input_copies()
    losses = [float(m.train_step(x=x, label=y)["loss"]) for _ in range(20)]
    assert dlc._native.input_copies() == before
    assert losses[-1] < losses[0] / 2
    probs = m.predict(x=x)
    np.testing.assert_allclose(probs, m.predict(x=x.numpy()))


def test_outputs_go_to_torch_through_dlpack():
    m = model()
    probs = m.predict(x=np.ones((4, 6), np.float32))
    t = dlc.to_torch(probs)
    assert isinstance(t, torch.Tensor) and t.shape == (4, 3)
    t[0, 0] = 42  # shares the array's memory
    assert probs[0, 0] == 42


def test_weights_match_a_torch_linear_layer():
    m = model()
    lin = torch.nn.Linear(6, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(m.params["dense1.w"].T.copy()))
        lin.bias.copy_(torch.from_numpy(m.params["dense1.b"]))
    x = torch.randn(4, 6)
    np.testing.assert_allclose(m.predict(x=x), torch.softmax(lin(x), -1).detach().numpy(), rtol=1e-5, atol=1e-6)

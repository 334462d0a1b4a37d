"""Running executables from Python: predict on any rows, train_step,
parameters, checkpoints, inputs taken without a copy, and error texts."""

import subprocess

import numpy as np
import pytest

import dlc


def small_classifier(batch=8, target="cpu"):
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 20])
    y = g.label("label", [dlc.batch])
    logits = dlc.layers.dense(g, dlc.layers.dense(g, x, 16, activation="tanh"), 3)
    g.output("probs", dlc.ops.softmax(logits))
    g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.sgd(0.1))
    return dlc.load(dlc.compile(g, batch=batch, target=target, seed=3))


def test_predict_takes_any_number_of_rows():
    m8, m1 = small_classifier(8), small_classifier(1)
    x = np.random.default_rng(1).normal(size=(21, 20)).astype(np.float32)  # 2 whole batches and 5 rows
    probs = m8.predict(x=x)
    assert probs.shape == (21, 3)
    one_by_one = np.concatenate([m1.predict(x=x[i:i + 1]) for i in range(21)])
    np.testing.assert_allclose(probs, one_by_one, rtol=1e-5, atol=1e-6)
    # The reference interpreter (float64) agrees with the cpu target.
    ref = small_classifier(8, target="ref").predict(x=x)
    np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-5)


def test_contiguous_float32_inputs_are_not_copied():
    m = small_classifier(8)
    x = np.zeros((8, 20), np.float32)
    before = dlc._native.input_copies()
    m.predict(x=x)
    m.run("predict", x=x)
    m.train_step(x=x, label=np.zeros(8, np.int32))
    assert dlc._native.input_copies() == before
    m.predict(x=x.astype(np.float64))                    # another dtype: one converted copy
    assert dlc._native.input_copies() == before + 1
    m.predict(x=np.zeros((20, 8), np.float32).T)         # not row-major: one copy
    assert dlc._native.input_copies() == before + 2
    m.train_step(x=x, label=np.zeros(8, np.int64))       # int64 labels, as NumPy makes them
    assert dlc._native.input_copies() == before + 3


def test_train_step_lowers_the_loss_and_counts_steps(blobs):
    (x, y), _ = blobs
    m = small_classifier(8)
    first = float(m.train_step(x=x[:8], label=y[:8])["loss"])
    for _ in range(30):
        out = m.train_step(x=x[:8], label=y[:8])
    assert set(out) == {"loss", "probs"}
    assert float(out["loss"]) < first / 2


def test_error_texts_name_the_input_and_what_was_given():
    m = small_classifier(8)
    x = np.zeros((8, 20), np.float32)
    with pytest.raises(dlc.Error, match=r"input 'x' of predict is f32\[8,20\], but an array of shape \(8, 21\)"):
        m.run("predict", x=np.zeros((8, 21), np.float32))
    with pytest.raises(dlc.Error, match=r"input 'x' of predict takes rows of 20 values"):
        m.predict(x=np.zeros((8, 21), np.float32))
    with pytest.raises(dlc.Error, match=r"input 'x' of predict is f32\[8,20\], but an array of dtype complex64"):
        m.predict(x=x.astype(np.complex64))
    with pytest.raises(dlc.Error, match=r"input 'label' of train_step is i32\[8\], but an array of dtype float32"):
        m.train_step(x=x, label=np.zeros(8, np.float32))
    with pytest.raises(dlc.Error, match=r"entry point 'predict' has no input 'image' \(its inputs: x\)"):
        m.run("predict", x=x, image=x)
    with pytest.raises(dlc.Error, match=r"entry point 'train_step' needs input 'label' i32\[8\], not given"):
        m.train_step(x=x)
    with pytest.raises(dlc.Error, match=r"has no entry point 'backward'"):
        m.run("backward", x=x)
    with pytest.raises(dlc.Error, match=r"entry point 'predict' has no output 'logits' \(its outputs: probs\)"):
        m.run("predict", outputs=["logits"], x=x)
    with pytest.raises(dlc.Error, match=r"no parameter or persistent tensor 'W9'"):
        m.params["W9"]
    with pytest.raises(dlc.Error, match=r"parameter 'dense1.w' is f32\[20,16\], but an array of shape \(16, 20\)"):
        m.params["dense1.w"] = np.zeros((16, 20), np.float32)


def test_parameters_and_checkpoints(tmp_path):
    m = small_classifier(8)
    w = m.params["dense1.w"]
    assert w.shape == (20, 16) and w.dtype == np.float32 and np.abs(w).sum() > 0
    m.params["dense1.w"] = np.ones((20, 16))
    assert (m.params["dense1.w"] == 1).all()
    m.save(tmp_path / "w.safetensors", {"note": "ones"})
    other = small_classifier(8)
    assert not (other.params["dense1.w"] == 1).all()
    assert other.load_checkpoint(tmp_path / "w.safetensors") == {"note": "ones"}
    for name in m.params:
        np.testing.assert_array_equal(other.params[name], m.params[name])
    with pytest.raises(dlc.Error, match="w.missing"):
        other.load_weights(tmp_path / "w.missing")


def test_executables_save_for_dlrun(tmp_path, tools):
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 4])
    g.output("y", dlc.ops.relu(x))
    exe = dlc.compile(g, batch=2)
    exe.save(tmp_path / "relu.dlc")
    info = subprocess.run([tools[1], "info", str(tmp_path / "relu.dlc")], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "f32[2,4]" in info.stdout
    m = dlc.load(tmp_path / "relu.dlc")
    np.testing.assert_array_equal(m.predict(x=np.array([[-1, 2, -3, 4]], np.float32)), [[0, 2, 0, 4]])
    with pytest.raises(dlc.Error, match="cannot open"):
        dlc.load(tmp_path / "missing.dlc")
    with pytest.raises(dlc.Error, match="truncated or corrupt"):
        dlc.load(dlc.Executable(exe.data[: len(exe.data) // 2], "half.dlc"))

"""dlc.fit is the training loop of `dlrun train`: same data and seed, same weights."""

import subprocess

import numpy as np
import pytest

import dlc
from conftest import REPO


def classifier_graph():
    g = dlc.Graph()
    x = g.input("x", [dlc.batch, 20])
    y = g.label("label", [dlc.batch])
    logits = dlc.layers.dense(g, dlc.layers.dense(g, x, 16, activation="relu"), 3)
    g.output("probs", dlc.ops.softmax(logits))
    g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.adam(0.01))
    return g


def test_fit_gives_bitwise_the_weights_of_dlrun_train(tmp_path, tools, blobs):
    (x, y), (tx, ty) = blobs
    for name, a in [("x", x), ("y", y), ("tx", tx), ("ty", ty)]:
        np.save(tmp_path / f"{name}.npy", a)
    exe = dlc.compile(classifier_graph(), batch=32)
    exe.save(tmp_path / "m.dlc")
    run = subprocess.run([tools[1], "train", str(tmp_path / "m.dlc"), "--epochs", "3", "--seed", "11",
                          "--schedule", "cosine", "--warmup", "5",
                          "--train-x", str(tmp_path / "x.npy"), "--train-y", str(tmp_path / "y.npy"),
                          "--test-x", str(tmp_path / "tx.npy"), "--test-y", str(tmp_path / "ty.npy"),
                          "--checkpoint", str(tmp_path / "dlrun.safetensors")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr

    m = dlc.load(exe)
    h = dlc.fit(m, train=(x, y), test=(tx, ty), epochs=3, seed=11, schedule="cosine", warmup=5,
                checkpoint=str(tmp_path / "python.safetensors"), progress=False)
    reference = dlc.load(exe)
    reference.load_checkpoint(tmp_path / "dlrun.safetensors")
    for name in m.params:
        np.testing.assert_array_equal(m.params[name], reference.params[name], err_msg=name)
    assert (tmp_path / "dlrun.safetensors").read_bytes() == (tmp_path / "python.safetensors").read_bytes()
    assert len(h.step_losses) == 3 * (600 // 32) and h.steps_per_epoch == 600 // 32
    assert [e["epoch"] for e in h.epochs] == [1, 2, 3]
    assert h.test["accuracy"] > 0.9
    assert f"test accuracy: {h.test['accuracy']:.4f}" in run.stdout


def test_fit_stops_early_and_restores_the_best_weights(tmp_path):
    # Random labels: the model can only memorize, so the validation loss rises.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(320, 20)).astype(np.float32)
    y = rng.integers(0, 3, 320)
    m = dlc.load(dlc.compile(classifier_graph(), batch=32))
    h = dlc.fit(m, train=(x, y), test=(x[:64], y[:64]), epochs=40, lr=0.05, val_split=0.2, patience=2,
                progress=False, plot=str(tmp_path / "run.svg"))
    assert h.stopped_early and h.epochs_done < 40
    assert 1 <= h.best_epoch < h.epochs_done
    assert all("val" in e for e in h.epochs)
    # The plot: one polyline per curve, a point per update or per epoch.
    import xml.etree.ElementTree as ET

    svg = ET.parse(tmp_path / "run.svg").getroot()
    curves = {p.get("class").split()[-1]: p.get("points").split()
              for p in svg.iter("{http://www.w3.org/2000/svg}polyline") if "curve" in p.get("class", "")}
    assert set(curves) == {"step-loss", "train-loss", "test-loss", "val-loss", "test-accuracy", "val-accuracy"}
    assert len(curves["step-loss"]) == len(h.step_losses) == h.epochs_done * (256 // 32)
    assert all(len(curves[c]) == h.epochs_done for c in curves if c != "step-loss")


def test_fit_errors_name_the_data():
    (m) = dlc.load(dlc.compile(classifier_graph(), batch=32))
    x = np.zeros((64, 20), np.float32)
    with pytest.raises(dlc.Error, match="train labels: 63 labels for 64 rows"):
        dlc.fit(m, train=(x, np.zeros(63)), test=(x, np.zeros(64)), progress=False)
    with pytest.raises(dlc.Error, match="train labels: row 1 has label 0.5"):
        dlc.fit(m, train=(x, np.array([0, 0.5] + [0] * 62)), test=(x, np.zeros(64)), progress=False)
    with pytest.raises(dlc.Error, match="test inputs"):
        dlc.fit(m, train=(x, np.zeros(64)), test=(np.zeros((64, 21), np.float32), np.zeros(64)), progress=False)
    with pytest.raises(dlc.Error, match="schedule takes"):
        dlc.fit(m, train=(x, np.zeros(64)), test=(x, np.zeros(64)), schedule="linear", progress=False)


def test_fit_on_fashion_mnist_matches_dlrun_train_on_the_idx_files(tmp_path, tools):
    folder = dlc.datasets.FASHION_MNIST
    (x, y), (tx, ty) = dlc.datasets.fashion_mnist(folder)
    assert x.shape == (60000, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1
    assert tx.shape == (10000, 28, 28) and set(np.unique(ty)) == set(range(10))
    exe = dlc.compile(REPO / "models" / "mlp_mnist.pbtxt", batch=64, seed=2)
    exe.save(tmp_path / "mlp.dlc")
    run = subprocess.run([tools[1], "train", str(tmp_path / "mlp.dlc"), "--data", folder, "--epochs", "1",
                          "--limit-train", "1280", "--limit-test", "300", "--checkpoint",
                          str(tmp_path / "dlrun.safetensors")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    m = dlc.load(exe)
    h = dlc.fit(m, train=(x[:1280], y[:1280]), test=(tx[:300], ty[:300]), epochs=1, progress=False)
    reference = dlc.load(exe)
    reference.load_checkpoint(tmp_path / "dlrun.safetensors")
    for name in m.params:
        np.testing.assert_array_equal(m.params[name], reference.params[name], err_msg=name)
    assert f"test accuracy: {h.test['accuracy']:.4f}" in run.stdout


def test_ctrl_c_stops_fit_between_updates(tmp_path):
    # A long fit in a child process; SIGINT must end it with KeyboardInterrupt
    # within a moment, not after the run.
    import signal
    import sys
    import time

    script = tmp_path / "long_fit.py"
    script.write_text(
        "import numpy as np, dlc, sys\n"
        f"sys.path.insert(0, {str(REPO / 'python' / 'tests')!r})\n"
        "from test_fit import classifier_graph\n"
        "m = dlc.load(dlc.compile(classifier_graph(), batch=32))\n"
        "x = np.zeros((3200, 20), np.float32); y = np.zeros(3200)\n"
        "print('training', flush=True)\n"
        "try:\n"
        "    dlc.fit(m, train=(x, y), test=(x[:32], y[:32]), epochs=100000, progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True); sys.exit(3)\n")
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "training"
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 3 and "interrupted" in out
    assert time.monotonic() - start < 5

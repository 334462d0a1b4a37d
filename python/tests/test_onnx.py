"""Models from PyTorch through ONNX: dlc.import_onnx on the committed
fixtures (no PyTorch needed), and the whole round trip where PyTorch is."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import dlc
from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "onnx"


def read_safetensors(path):
    """The tensors of a safetensors file, by name (the format is 8 bytes of
    header length, a JSON header, then the data)."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "F64": np.float64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + begin: 8 + n + end], dtypes[info["dtype"]]).reshape(info["shape"])
    return out


@pytest.mark.parametrize("file", ["mlp_ts13.onnx", "lenet5_dyn20.onnx", "cnn_bn_dyn18_nofold.onnx",
                                  "view_flatten_ts13_static.onnx"])
def test_imported_models_predict_and_train_like_pytorch(file):
    want = read_safetensors(FIXTURES / (file.split("_ts")[0].split("_dyn")[0] + ".expected.safetensors"))
    g = dlc.import_onnx(FIXTURES / file)
    assert [v.name for v in g.outputs] == ["logits"]
    m = dlc.load(dlc.compile(g, batch=8))
    np.testing.assert_allclose(m.predict(x=want["input"]), want["output"], rtol=1e-5, atol=1e-5)

    g = dlc.import_onnx(FIXTURES / file, loss="softmax_cross_entropy", optimizer=dlc.optim.sgd(0.1))
    assert [v.name for v in g.outputs] == ["probs", "logits"]
    m = dlc.load(dlc.compile(g, batch=8))
    for step in (1, 2):
        m.train_step(x=want[f"step{step}_x"], label=want[f"step{step}_y"])
    for key, value in want.items():
        if key.startswith("after."):
            np.testing.assert_allclose(m.params[key[6:]], value, rtol=1e-5, atol=1e-5, err_msg=key)


def test_weights_only_save_holds_the_state_dict_keys(tmp_path):
    g = dlc.import_onnx(FIXTURES / "mlp_dyn18.onnx", loss="softmax_cross_entropy", optimizer=dlc.optim.adam(1e-3))
    m = dlc.load(dlc.compile(g, batch=4))
    assert "fc1.weight.m" in m.params.names()  # Adam's state is in the model...
    m.save_weights(tmp_path / "w.safetensors")
    saved = read_safetensors(tmp_path / "w.safetensors")
    assert sorted(saved) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]  # ...but not in its weights
    assert saved["fc1.weight"].shape == (32, 784)  # PyTorch's [out, in]


def test_import_errors_name_the_file():
    with pytest.raises(dlc.Error, match="frozen no.such: the model has no initializer"):
        dlc.import_onnx(FIXTURES / "mlp_ts13.onnx", frozen=["no.such"])
    with pytest.raises(dlc.Error, match="cannot open"):
        dlc.import_onnx(FIXTURES / "missing.onnx")


needs_torch = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("torch", "onnxscript", "safetensors")),
    reason="the round trip needs torch, onnxscript and safetensors")


@needs_torch
@pytest.mark.parametrize("exporter", ["ts", "dynamo"])
def test_pytorch_round_trip_gives_dlruns_accuracy(tools, tmp_path, exporter):
    build_dir = str(pathlib.Path(tools[0]).parent)
    run = subprocess.run([sys.executable, str(REPO / "examples" / "onnx" / "pytorch_roundtrip.py"), build_dir,
                          exporter, str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PyTorch with the weights" in run.stdout

#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora under tests/fuzz/corpus/<target>/:
small valid files of each format plus a few edge cases (refused dtypes,
truncations, zero-sized arrays). Run from anywhere; DLC names a built dlc
tool for the executable seeds (skipped without it). The corpora are in the
repository; rerun this only to change them.

    python3 tests/fuzz/make_corpus.py [--dlc build/dlc]
"""
import argparse
import base64
import gzip
import json
import os
import shutil
import struct
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(descr, shape, payload, fortran=False, version=1):
    shape_txt = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_txt}, }}"
    size_fmt, prefix = ("<H", 10) if version == 1 else ("<I", 12)
    pad = (64 - (prefix + len(header) + 1) % 64) % 64
    header += " " * pad + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack(size_fmt, len(header)) + header.encode() + payload


def npy_seeds():
    f32 = struct.pack("<6f", 0.5, -1, 2, 3.25, 1e-3, 7)
    put("fuzz_npy", "f4_2x3.npy", npy("<f4", (2, 3), f32))
    put("fuzz_npy", "i8_v2.npy", npy("<i8", (3,), struct.pack("<3q", 1, -2, 3), version=2))
    put("fuzz_npy", "u1_2x2.npy", npy("|u1", (2, 2), bytes([0, 255, 7, 9])))
    put("fuzz_npy", "b1_3.npy", npy("|b1", (3,), bytes([1, 0, 1])))
    put("fuzz_npy", "f8_scalar.npy", npy("<f8", (), struct.pack("<d", 3.5)))
    put("fuzz_npy", "i4_empty.npy", npy("<i4", (0, 4), b""))
    put("fuzz_npy", "fortran.npy", npy("<f4", (2, 3), f32, fortran=True))
    put("fuzz_npy", "big_endian.npy", npy(">f4", (2,), struct.pack(">2f", 1, 2)))
    put("fuzz_npy", "truncated.npy", npy("<f4", (2, 3), f32[:10]))


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    put("fuzz_safetensors", "two_tensors.safetensors", safetensors(
        {"b": ("F32", [1], struct.pack("<f", 0.5)), "w": ("F32", [3, 1], struct.pack("<3f", 1, 2, 3))},
        {"step": "12", "epoch": "1"}))
    put("fuzz_safetensors", "all_dtypes.safetensors", safetensors({
        "a": ("F64", [2], struct.pack("<2d", 1, -1)), "b": ("I32", [2], struct.pack("<2i", 4, 5)),
        "c": ("I64", [], struct.pack("<q", 9)), "d": ("BOOL", [2, 1], bytes([1, 0])),
        "e": ("F32", [0, 3], b"")}))
    put("fuzz_safetensors", "empty.safetensors", safetensors({}))
    put("fuzz_safetensors", "escapes.safetensors", safetensors(
        {"w\\u00e9\\n": ("F32", [1], struct.pack("<f", 1))}, {"note": "a \"quoted\" \\ value"}))
    put("fuzz_safetensors", "gap.safetensors",
        struct.pack("<Q", 58) + b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}   ' + b"\0" * 8)
    good = safetensors({"w": ("F16", [2], b"\0" * 4)})
    put("fuzz_safetensors", "f16.safetensors", good)
    put("fuzz_safetensors", "truncated.safetensors", safetensors({"w": ("F32", [4], b"\0" * 16)})[:-5])


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", n) for n in dims) + payload


def idx_seeds():
    images = idx(0x08, [2, 3, 3], bytes(range(18)))
    labels = idx(0x08, [2], bytes([3, 9]))
    seeds = {
        "images_u8": images,
        "labels_u8": labels,
        "i8": idx(0x09, [3], bytes([0x80, 0, 0x7F])),
        "i16": idx(0x0B, [2, 2], struct.pack(">4h", 1, -2, 300, -400)),
        "i32": idx(0x0C, [2], struct.pack(">2i", 1 << 20, -5)),
        "f32": idx(0x0D, [1, 2], struct.pack(">2f", 0.5, -2.5)),
        "f64": idx(0x0E, [2], struct.pack(">2d", 1e300, -0.0)),
        "zero_rows": idx(0x08, [0, 28, 28], b""),
        "truncated": idx(0x08, [2, 3, 3], bytes(range(10))),
        "bad_magic": bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 0]),
    }
    for name, data in seeds.items():
        # fuzz_idx_gzip gzips its input itself; fuzz_idx reads raw and gzip.
        put("fuzz_idx_gzip", name + ".idx", data)
        put("fuzz_idx", name + ".idx", data)
    # Headers claiming gigabytes over a few bytes of data: found by fuzz_idx and
    # fuzz_idx_gzip (out-of-memory before read_idx checked claims against the limit).
    put("fuzz_idx", "huge_claim.idx", idx(0x08, [0x10020002, 3, 3], bytes(range(18))))
    put("fuzz_idx_gzip", "huge_claim.idx", bytes.fromhex("00000b0200000024020000000000020000000200011300012402000113000124feed"))
    put("fuzz_idx", "images_u8.idx.gz", gzip.compress(images, mtime=0))
    put("fuzz_idx", "labels_u8_truncated.idx.gz", gzip.compress(labels, mtime=0)[:-6])


def csv_seeds():
    put("fuzz_csv", "header.csv", "x1,x2,y\n1,2,3\n-4.5,5e-3,6\n")
    put("fuzz_csv", "plain.csv", "0.1,0.2\n\n0.3,0.4\r\n0.5,0.6")
    put("fuzz_csv", "one_column.csv", "1\n0\n2\n")
    put("fuzz_csv", "ragged.csv", "1,2,3\n4,5\n")
    put("fuzz_csv", "nonfinite.csv", "nan,inf,-inf\n1e39, 2 ,0x10\n")
    put("fuzz_csv", "empty_fields.csv", ",,\n1,,2\n")


def model_seeds(tmp):
    for name in ["perceptron", "linear_regression", "mlp_dropout"]:
        shutil.copy(os.path.join(ROOT, "models", name + ".pbtxt"), os.path.join(CORPUS, "fuzz_model_text"))
        src = open(os.path.join(ROOT, "models", name + ".pbtxt"), "rb").read()
        pb = subprocess.run(["protoc", "--encode=dlc.proto.Model", "-I" + ROOT, os.path.join(ROOT, "ir", "dlc.proto")],
                            input=src, check=True, capture_output=True).stdout
        put("fuzz_model_binary", name + ".pb", pb)
    # A reshape whose dims multiply past int64 (found by fuzz_model_binary: signed overflow).
    put("fuzz_model_binary", "reshape_overflow.pb", base64.b64decode(
        "Cr4BChQKAXgSDwgBEgv///////////0BAwoVCgF5Eg4IARIK////////////ABgBEg8KAXcSBggBEgIDARoCCgASDgoBYhIFCAES"
        "AQEaAgoAGhISBm1hdG11bBoBeBoBdyICeHcaDxIDYWRkGgJ4dxoBYiIBehorEgdyZXNoYXBlGgF6IgV5X2hhdCoWCgRkaW1zEg4i"
        "DAoKf///////////ARoVEgNtc2UaBXlfaGF0GgF5IgRsb3NzIgV5X2hhdBIWCgRsb3NzEg4KA3NnZBF7FK5H4XqEPw=="))
    put("fuzz_model_text", "unknown_op.pbtxt",
        'graph { inputs { name: "x" type { dtype: F32 dims: [-1, 2] } }\n'
        '  nodes { op: "frobnicate" inputs: "x" outputs: "y" }\n  outputs: "y" }\n')
    put("fuzz_model_text", "syntax_error.pbtxt", 'graph { inputs { name: "x" type { dtype: F99 } }')


def executable_seeds(dlc, tmp):
    for model, target, extra in [("linear_regression", "ref", ["--no-train"]), ("perceptron", "ref", []),
                                 ("linear_regression", "cpu", ["--no-train"])]:
        out = os.path.join(tmp, "m.dlc")
        subprocess.run([dlc, "compile", os.path.join(ROOT, "models", model + ".pbtxt"), "-o", out,
                        "--target", target] + extra, check=True, capture_output=True)
        data = open(out, "rb").read()
        put("fuzz_executable", f"{model}_{target}.dlc", data)
        if target == "ref" and extra:
            put("fuzz_executable", f"{model}_{target}_truncated.dlc", data[: len(data) // 2])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dlc", help="a built dlc tool, for the executable seeds")
    args = ap.parse_args()
    os.makedirs(os.path.join(CORPUS, "fuzz_model_text"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        npy_seeds()
        safetensors_seeds()
        idx_seeds()
        csv_seeds()
        model_seeds(tmp)
        if args.dlc:
            executable_seeds(args.dlc, tmp)


if __name__ == "__main__":
    main()

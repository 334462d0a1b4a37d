"""The example programs run as the README says."""

import subprocess
import sys

from conftest import REPO


def test_fashion_mnist_example_trains_and_plots(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "examples" / "python" / "fashion_mnist.py"), "1"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    accuracy = float(run.stdout.split("test accuracy after 1 epochs: ")[1].split()[0])
    assert accuracy > 0.8
    assert (tmp_path / "training.svg").read_text().count('class="curve') == 4
    assert (tmp_path / "fashion_mnist.safetensors").stat().st_size > 4 * 784 * 256

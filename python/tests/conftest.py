"""Shared fixtures: the repository, its build of the command-line tools, and small data."""

import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("DLC_BUILD_DIR", REPO / "build"))
FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def tools():
    """The dlc and dlrun executables of the CMake build (scripts/test.sh builds them first)."""
    dlc, dlrun = BUILD / "dlc", BUILD / "dlrun"
    assert dlc.exists() and dlrun.exists(), f"{BUILD} has no dlc/dlrun: build them first (bash scripts/test.sh)"
    return str(dlc), str(dlrun)


@pytest.fixture(scope="session")
def blobs():
    """A small 3-class problem with 20 features: 600 train rows, 150 test rows."""
    rng = np.random.default_rng(7)
    centers = rng.normal(0, 2, size=(3, 20))

    def draw(n):
        y = rng.integers(0, 3, size=n)
        x = centers[y] + rng.normal(0, 1, size=(n, 20))
        return x.astype(np.float32), y.astype(np.int32)

    return draw(600), draw(150)

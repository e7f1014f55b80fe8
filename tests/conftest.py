import numpy as np
import pytest
from circuits.artifacts import build


@pytest.fixture
def rng():
    """A seeded generator, so that a failing random case can be replayed."""
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """circom2/snarkjs-made circuits, witnesses, keys and proofs, built once per test session."""
    return build(tmp_path_factory.getbasetemp() / "snarkjs_artifacts")

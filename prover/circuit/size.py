"""A circuit's size before it is built, and the refusal of one too large for this machine.

``CountingBuilder`` runs the real construction (the same lowering rules and gadgets) but keeps
no constraint and no witness step: it counts constraints, wires and the R1CS's nonzero entries.
So the count is exact by construction (one implementation of each op's cost: its lowering), and
it costs the index arithmetic of the lowering without the R1CS's memory or assembly.

``check_fits`` refuses a circuit above the Groth16 backend's limits on this machine: a domain of
``2**MAX_DOMAIN_POWER`` constraints, and an estimated peak memory (from the prove benchmark's
measured peaks) within the machine's physical memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from prover.circuit.builder import Builder, LinComb
from prover.errors import UnsupportedModelError
from prover.groth16.qap import domain_size

# the largest domain the Groth16 backend proves on a 24 GiB machine (a 7.7M-constraint accuracy
# proof at 2^23 peaks at 17.5 GiB, python -m benchmarks accuracy_retrieval)
MAX_DOMAIN_POWER = 23
# peak resident memory of setup and prove: about 2.5 KiB per constraint over a 160 MiB base
# (the same benchmark: 0.36M constraints 1.1 GiB, 0.8M 2.2 GiB, 7.7M 17.5 GiB)
BYTES_PER_CONSTRAINT = 2_560
BASE_BYTES = 160 << 20


class ModelTooLargeError(UnsupportedModelError):
    """The circuit of a model would not fit the Groth16 backend on this machine."""


@dataclass(frozen=True)
class CircuitSize:
    """A circuit's counts, exact, and its estimated peak memory to set up and prove."""

    constraints: int
    wires: int
    nonzeros: int  # entries before duplicate wires merge: at least the R1CS's nonzeros
    public: int = 0  # public inputs and outputs: each takes a row of the Groth16 domain

    @property
    def domain_power(self) -> int:
        """The power of two of the evaluation domain (``qap.domain_size``), the ptau it needs."""
        return domain_size(self.constraints, self.public).bit_length() - 1

    @property
    def memory_bytes(self) -> int:
        return BASE_BYTES + BYTES_PER_CONSTRAINT * self.constraints


class CountingBuilder(Builder):
    """A Builder that counts: wires are allocated as usual (their numbers are what the lowering
    indexes with), constraints only counted with their nonzero entries, witness steps dropped.
    ``finish`` is not available: there is no circuit to finish."""

    def __init__(self) -> None:
        super().__init__()
        self.nonzeros = 0

    def constrain(self, a, b, c) -> None:
        a, b, c = (LinComb.lift(x) for x in (a, b, c))
        n = int(np.prod(np.broadcast_shapes(a.shape, b.shape, c.shape)))
        self.n_constraints += n
        self.nonzeros += n * (a.terms + b.terms + c.terms)

    def step(self, fn) -> None:
        pass

    def finish(self):
        raise TypeError("a CountingBuilder only counts: build with Builder to get a circuit")

    def size(self) -> CircuitSize:
        public = sum(wires.size for _, wires, _ in self._public)
        return CircuitSize(self.n_constraints, self.n_wires, self.nonzeros, public)


def physical_memory() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(size: CircuitSize, what: str, memory: int | None = None) -> None:
    """Raise ModelTooLargeError, with the estimate, if ``size`` is beyond the Groth16 backend on
    this machine (``memory``: the bytes available, the physical memory by default)."""
    memory = physical_memory() if memory is None else memory
    reasons = []
    if size.domain_power > MAX_DOMAIN_POWER:
        reasons.append(f"a domain of 2^{size.domain_power}, past the 2^{MAX_DOMAIN_POWER} the Groth16 backend proves")
    if size.memory_bytes > memory:
        need, have = size.memory_bytes / 2**30, memory / 2**30
        reasons.append(f"an estimated {need:.1f} GiB to prove, this machine has {have:.1f}")
    if reasons:
        raise ModelTooLargeError(
            f"{what} has {size.constraints:,} constraints ({size.nonzeros:,} nonzeros): "
            + "; ".join(reasons)
            + ". Compile it in public-model mode if its weights may be public, use a smaller model or "
            "batch, or prove it with a sumcheck backend (one whose cost grows with weights and "
            "activations, not multiplies)"
        )

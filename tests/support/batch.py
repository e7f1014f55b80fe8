"""A model with a batch statement for the contract tests: the small Gemm-ReLU-Gemm of
``support.models`` with test keys (known secret) for its single statement and its batch of
BATCH, and real proofs made on demand."""

from __future__ import annotations

from marketplace.setup.pipeline import quantized_graph
from prover.circuit import statements as S
from prover.groth16.prove import prove
from prover.onnx import executor
from support.models import prove_with_test_key, write_small_model

BATCH = 4


class Keys:
    """The small model's single and batch-of-4 statements, their test keys, and proofs made on
    demand for any list of (input index, salt)."""

    def __init__(self, root):
        path = root / "small.onnx"
        calibration = write_small_model(path)
        self.graph = quantized_graph(path, calibration).graph
        self.xs = executor.quantize_input(self.graph, calibration[:6])
        self.single = S.inference_circuit(self.graph, "private")
        self.batch = S.inference_circuit(self.graph, "private", batch=BATCH)
        x0 = self.single.witness(self.xs[0], 1)
        self.single_pk = prove_with_test_key(self.single.r1cs, x0.witness)[0]
        result = self.batch.batch_witness(self.xs[:1], [1])
        self.batch_pk = prove_with_test_key(self.batch.r1cs, result.witness)[0]
        self.commitment = S.model_commitment(self.graph)
        self._proofs: dict = {}

    def result(self, i: int, salt: int):
        """(input commitment, label, output commitment) of input i with ``salt``."""
        public = self.single.witness(self.xs[i], salt).public
        return public["input_commitment"], public["label"], public["output_commitment"]

    def batch_proof(self, requests: list[tuple[int, int]]):
        """A proof of the batch statement for [(input index, salt)] (padded by the last)."""
        key = tuple(requests)
        if key not in self._proofs:
            result = self.batch.batch_witness([self.xs[i] for i, _ in requests], [s for _, s in requests])
            self._proofs[key] = prove(self.batch_pk, result.witness, r1cs=self.batch.r1cs)[0]
        return self._proofs[key]

    def single_proof(self, i: int, salt: int):
        """A proof of the single statement for input i with ``salt``: (proof, label, output)."""
        result = self.single.witness(self.xs[i], salt)
        proof, public = prove(self.single_pk, result.witness, r1cs=self.single.r1cs)
        return proof, int(public[2]), int(public[3])

"""The toy inference circuit (contracts/test/toy_inference.circom): circom2 compiles it, snarkjs
runs its ceremony (a powers of tau of power 10 with one contribution, and a phase 2 with one),
and proofs come from our prover when its MSM kernels are native, else from snarkjs."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from marketplace.contracts import proof_to_evm
from marketplace.npm import REPO_ROOT, run_npm_tool
from prover import kernels
from prover.formats.snarkjs_json import read_proof
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey
from prover.groth16.keys import Proof, ProvingKey, VerifyingKey
from prover.groth16.prove import prove as zkmarket_prove

CIRCUIT = REPO_ROOT / "contracts" / "test" / "toy_inference.circom"
PTAU_POWER = 10  # 869 constraints + 5 public rows fit the 1024-row domain
# weights and inputs of the toy models (non-negative and small: the circuit's comparator
# takes 66-bit values)
MODELS = {"a": [[3, 5], [7, 2]], "b": [[2, 9], [4, 1]]}
INPUTS = {"x1": ([11, 13], 1001), "x2": ([6, 2], 1002)}


@dataclass(frozen=True)
class ToyProof:
    """A proof with its public signals (model commitment, input commitment, label, output
    commitment) and who made it."""

    public: tuple[int, int, int, int]
    proof: Proof = field(compare=False)
    source: str = "zkmarket"

    @property
    def model_commitment(self) -> int:
        return self.public[0]

    @property
    def input_commitment(self) -> int:
        return self.public[1]

    @property
    def label(self) -> int:
        return self.public[2]

    @property
    def output_commitment(self) -> int:
        return self.public[3]

    @property
    def evm(self):
        """(a, b, c) as verifyProof takes them."""
        return proof_to_evm(self.proof)


def snarkjs(*args) -> str:
    return run_npm_tool("snarkjs", *args, timeout=900).stdout


def native_msm() -> bool:
    return kernels.BACKEND["g1_msm"] == "native" and kernels.BACKEND["g2_msm"] == "native"


@dataclass
class ToyCircuit:
    dir: Path
    wasm: Path
    zkey: Path
    proving_key: ProvingKey
    _proofs: dict = field(default_factory=dict)

    @property
    def verifying_key(self) -> VerifyingKey:
        return self.proving_key.verifying_key()

    def witness(self, model: str, inp: str) -> Path:
        """circom's witness for model ``model`` on input ``inp`` (a .wtns file)."""
        x, salt = INPUTS[inp]
        path = self.dir / f"{model}_{inp}.wtns"
        if not path.exists():  # another test process may write it too: each writes its own, then renames
            src, tmp = (self.dir / f"{model}_{inp}.{os.getpid()}.{ext}" for ext in ("json", "wtns"))
            src.write_text(json.dumps({"weights": MODELS[model], "x": x, "salt": salt}))
            snarkjs("wtns", "calculate", self.wasm, src, tmp)
            os.replace(tmp, path)
        return path

    def snarkjs_proof(self, model: str, inp: str) -> ToyProof:
        """A proof made by ``snarkjs groth16 prove``."""
        out, pub = self.dir / f"{model}_{inp}.proof.json", self.dir / f"{model}_{inp}.public.json"
        snarkjs("groth16", "prove", self.zkey, self.witness(model, inp), out, pub)
        public = tuple(int(v) for v in json.loads(pub.read_text()))
        return ToyProof(public, read_proof(out), "snarkjs")

    def zkmarket_proof(self, model: str, inp: str) -> ToyProof:
        """A proof made by our prover from circom's witness."""
        proof, public = zkmarket_prove(self.proving_key, read_wtns(self.witness(model, inp)))
        return ToyProof(tuple(public), proof, "zkmarket")

    def proof(self, model: str, inp: str) -> ToyProof:
        """A valid proof that ``model`` maps ``inp`` to its label, cached per circuit: our
        prover's when its MSM is native, otherwise snarkjs's (seconds instead of minutes)."""
        key = (model, inp)
        if key not in self._proofs:
            self._proofs[key] = self.zkmarket_proof(model, inp) if native_msm() else self.snarkjs_proof(model, inp)
        return self._proofs[key]


_BUILT: dict[Path, ToyCircuit] = {}


def phase1_ptau(cache_dir: Path) -> Path:
    """A prepared powers of tau of PTAU_POWER with one contribution, made once and kept."""
    ptau = cache_dir / f"pot{PTAU_POWER}_final.ptau"
    if not ptau.exists():
        fresh, contributed, tmp = (cache_dir / f"pot{PTAU_POWER}_{s}" for s in ("0.ptau", "1.ptau", "final.tmp"))
        snarkjs("powersoftau", "new", "bn128", PTAU_POWER, fresh)
        snarkjs(
            "powersoftau",
            "contribute",
            fresh,
            contributed,
            "--name=contract tests",
            "-e=entropy for the contract tests",
        )
        snarkjs("powersoftau", "prepare", "phase2", contributed, tmp)
        os.replace(tmp, ptau)  # only a complete file gets the final name
    return ptau


def build_toy_circuit(workdir: Path, ptau_cache: Path) -> ToyCircuit:
    """Compile the toy circuit and run its phase 2 into ``workdir``, unless a complete build is
    already there (the final key is written last, under its name only when complete)."""
    if workdir in _BUILT:
        return _BUILT[workdir]
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "build.lock", "w") as lock:  # test processes (pytest -n) build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        circuit = _build_locked(workdir, ptau_cache)
    _BUILT[workdir] = circuit
    return circuit


def _build_locked(workdir: Path, ptau_cache: Path) -> ToyCircuit:
    r1cs, wasm = workdir / "toy_inference.r1cs", workdir / "toy_inference_js" / "toy_inference.wasm"
    zkey0, zkey = workdir / "toy_0.zkey", workdir / "toy.zkey"
    if not zkey.exists():
        ptau_cache.mkdir(parents=True, exist_ok=True)
        ptau = phase1_ptau(ptau_cache)
        # circom2 runs under WASI with the working directory's tree preopened: run it from the
        # repository, the circomlib include path relative to it
        run_npm_tool(
            "circom2",
            CIRCUIT.relative_to(REPO_ROOT),
            "--O2",
            "--r1cs",
            "--wasm",
            "-o",
            workdir,
            "-l",
            "node_modules",
            cwd=REPO_ROOT,
            timeout=600,
        )
        snarkjs("groth16", "setup", r1cs, ptau, zkey0)
        tmp = workdir / "toy.zkey.tmp"
        snarkjs("zkey", "contribute", zkey0, tmp, "--name=contract tests", "-e=phase two entropy")
        os.replace(tmp, zkey)
    return ToyCircuit(workdir, wasm, zkey, read_zkey(zkey))

"""Real Groth16 proofs for the contract tests, and the verifier contract checked against them.

``contracts/test/toy_inference.circom`` has the inference statement's four public signals in
statement order (model commitment, input commitment, label, output commitment): Poseidon
commitments to a 2x2 weight matrix and a salted 2-vector input, the two logits' commitment and
their argmax. circom2 compiles it and snarkjs runs the ceremony (a powers of tau of power 10,
cached across sessions in pytest's cache as any public phase-1 file would be, and a phase 2
with one contribution, cached there too under the circuit source's hash). Witnesses come from
circom's witness program; proofs from our
prover (``prover.groth16.prove``) once its MSM kernels are native, otherwise from snarkjs, so
the suite stays fast either way. Other contract test modules import ``toy_circuit`` from here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from marketplace.chain import connect
from marketplace.contracts import deploy_verifier, proof_to_evm
from marketplace.npm import REPO_ROOT, run_npm_tool
from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.snarkjs_json import read_proof
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey
from prover.groth16.keys import Proof, ProvingKey, VerifyingKey
from prover.groth16.prove import prove as zkmarket_prove
from prover.groth16.verify import verify_reference

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
        if not path.exists():
            src = self.dir / f"{model}_{inp}.json"
            src.write_text(json.dumps({"weights": MODELS[model], "x": x, "salt": salt}))
            snarkjs("wtns", "calculate", self.wasm, src, path)
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
    circuit = ToyCircuit(workdir, wasm, zkey, read_zkey(zkey))
    _BUILT[workdir] = circuit
    return circuit


@pytest.fixture(scope="session")
def toy_circuit(request, tmp_path_factory) -> ToyCircuit:
    """The toy circuit's build, kept in pytest's cache between sessions under a name that
    changes with the circuit's source (so an edited circuit is rebuilt); in the session's
    temporary directory when the cache is disabled (-p no:cacheprovider)."""
    source_hash = hashlib.sha256(CIRCUIT.read_bytes()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)
    if cache is None:
        base = tmp_path_factory.getbasetemp()
        return build_toy_circuit(base / "toy_inference", base / "ptau")
    return build_toy_circuit(
        Path(cache.mkdir(f"zkmarket-toy-inference-{source_hash}")), Path(cache.mkdir("zkmarket-contract-ptau"))
    )


# --- the verifier contract against the proofs ---------------------------------------------------


@pytest.fixture(scope="module")
def chain():
    return connect()


@pytest.fixture(scope="module")
def verifier(chain, toy_circuit):
    contract, _ = deploy_verifier(chain, toy_circuit.verifying_key, chain.eth.accounts[0])
    return contract


def _verify_on_chain(verifier, toy: ToyProof, public=None, evm=None) -> bool:
    a, b, c = evm or toy.evm
    return verifier.functions.verifyProof(a, b, c, list(public or toy.public)).call()


def test_snarkjs_proof_verifies_on_chain_and_its_calldata_matches_ours(toy_circuit, verifier):
    toy = toy_circuit.snarkjs_proof("a", "x1")
    assert toy.public[2] == 1  # logits (98, 103): class 1 wins
    assert _verify_on_chain(verifier, toy)
    # snarkjs's own calldata export orders G2 as (imaginary, real) exactly as proof_to_evm does
    pub = toy_circuit.dir / "a_x1.public.json"
    text = snarkjs("zkey", "export", "soliditycalldata", pub, toy_circuit.dir / "a_x1.proof.json")
    a, b, c, signals = json.loads("[" + text + "]")
    as_ints = lambda v: [as_ints(x) for x in v] if isinstance(v, list) else int(v, 16)  # noqa: E731
    assert [as_ints(a), as_ints(b), as_ints(c)] == list(toy.evm)
    assert as_ints(signals) == list(toy.public)


def test_snarkjs_proof_with_a_changed_signal_is_rejected(toy_circuit, verifier):
    toy = toy_circuit.snarkjs_proof("a", "x1")
    for i in range(4):
        public = list(toy.public)
        public[i] = (public[i] + 1) % FR_MODULUS
        assert not _verify_on_chain(verifier, toy, public)


def test_public_input_plus_r_is_rejected_although_the_curve_would_accept_it(toy_circuit, verifier):
    """x and x + r give the same ecMul: only the explicit range check refuses the alias."""
    toy = toy_circuit.proof("a", "x1")
    for i in range(4):
        public = list(toy.public)
        public[i] += FR_MODULUS
        assert public[i] < 2**256
        assert not _verify_on_chain(verifier, toy, public)
    assert _verify_on_chain(verifier, toy)


def test_proof_coordinates_plus_q_are_rejected(toy_circuit, verifier):
    q = verifier.functions.BASE_FIELD().call()
    toy = toy_circuit.proof("a", "x1")
    a, b, c = toy.evm
    assert not _verify_on_chain(verifier, toy, evm=([a[0], a[1] + q], b, c))
    assert not _verify_on_chain(verifier, toy, evm=(a, b, [c[0] + q, c[1]]))
    assert not _verify_on_chain(verifier, toy, evm=(a, [[b[0][0] + q, b[0][1]], b[1]], c))


def test_tampered_points_are_rejected(toy_circuit, verifier):
    toy = toy_circuit.proof("a", "x1")
    a, b, c = toy.evm
    other = toy_circuit.proof("b", "x2").evm
    assert not _verify_on_chain(verifier, toy, evm=(other[0], b, c))  # A of another proof
    assert not _verify_on_chain(verifier, toy, evm=(a, other[1], c))  # B of another proof
    assert not _verify_on_chain(verifier, toy, evm=(a, b, other[2]))  # C of another proof
    assert not _verify_on_chain(verifier, toy, evm=(a, [b[0][::-1], b[1][::-1]], c))  # py_ecc G2 order
    assert not _verify_on_chain(verifier, toy, evm=([1, 3], b, c))  # off the curve
    assert not _verify_on_chain(verifier, toy, evm=([0, 0], b, c))  # the point at infinity


def test_on_chain_verdicts_agree_with_py_ecc(toy_circuit, verifier):
    """The contract and the independent py_ecc verifier accept and refuse the same cases."""
    vk = toy_circuit.verifying_key
    good = toy_circuit.proof("b", "x2")
    other = toy_circuit.proof("a", "x1")
    cases = [
        (good.public, good.proof),
        (other.public, good.proof),
        (good.public, Proof(other.proof.a, good.proof.b, good.proof.c)),
    ]
    for public, proof in cases:
        on_chain = _verify_on_chain(verifier, good, list(public), proof_to_evm(proof))
        assert on_chain == verify_reference(vk, list(public), proof)
    assert _verify_on_chain(verifier, good)


def test_bad_verifying_key_is_refused_at_deployment(chain, toy_circuit):
    from marketplace.contracts import ContractRevert

    vk = toy_circuit.verifying_key
    bad_ic = vk.ic.copy()
    bad_ic[2, 1] = ints_to_limbs([5])[0]  # y changed: off the curve
    with pytest.raises(ContractRevert) as err:
        deploy_verifier(chain, VerifyingKey(vk.alpha1, vk.beta2, vk.gamma2, vk.delta2, bad_ic), chain.eth.accounts[0])
    assert err.value.error == "InvalidVerifyingKey"
    swapped = np.ascontiguousarray(vk.delta2[:, ::-1])  # G2 with real/imaginary exchanged
    with pytest.raises(ContractRevert) as err:
        deploy_verifier(chain, VerifyingKey(vk.alpha1, vk.beta2, vk.gamma2, swapped, vk.ic), chain.eth.accounts[0])
    assert err.value.error == "InvalidVerifyingKey"


def test_our_prover_proof_verifies_on_chain(toy_circuit, verifier):
    """A proof from prover.groth16.prove, whatever the pool's source."""
    toy = toy_circuit.zkmarket_proof("b", "x1")
    assert _verify_on_chain(verifier, toy)
    public = list(toy.public)
    public[2] ^= 1
    assert not _verify_on_chain(verifier, toy, public)

"""Reference artifacts made by circom2 and snarkjs for the format and CLI tests.

Built once into pytest's cache, by one test process (never committed): a prepared
powers of tau of power 8 with one contribution, and for each circuit here its .r1cs and witness
program, a witness, snarkjs's zkey (plus a contributed and a beaconed one), verification key,
proof and public signals. ``build`` is idempotent and holds a lock on its directory, so several
test modules and processes share one build; each file gets its final name only when complete.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from marketplace.npm import REPO_ROOT, run_npm_tool

CIRCUITS_DIR = Path(__file__).resolve().parent
# the Poseidon circuit's domain is 2^8: a power-8 ptau still serves it (its H query comes from
# the 2^9 G1 block snarkjs adds), and `prepare phase2` time doubles with every power
PTAU_POWER = 8
# what a build depends on: the circuits, this script and the npm lock (circomlib, snarkjs)
SOURCES = (Path(__file__).resolve(), *sorted(CIRCUITS_DIR.glob("*.circom")), REPO_ROOT / "package-lock.json")

INPUTS = {
    "multiplier": {"a": "3", "b": "11"},
    "poseidon_preimage": {"x": "7", "salt": "123456789", "tag": "5"},
}


@dataclass
class CircuitArtifacts:
    name: str
    dir: Path
    r1cs: Path
    wasm: Path
    wtns: Path
    zkey: Path  # snarkjs groth16 setup (no contribution)
    zkey_contributed: Path  # + one `zkey contribute`
    zkey_beacon: Path  # + a `zkey beacon` on top
    vk: Path
    proof: Path
    public: Path


@dataclass
class Artifacts:
    ptau: Path
    ptau_phase1: Path  # before `prepare phase2`
    circuits: dict[str, CircuitArtifacts]


def snarkjs(*args) -> str:
    return run_npm_tool("snarkjs", *args, timeout=600).stdout


def _circuit(name: str, base: Path, ptau: Path) -> CircuitArtifacts:
    out = base / name
    out.mkdir(exist_ok=True)
    art = CircuitArtifacts(
        name,
        out,
        out / f"{name}.r1cs",
        out / f"{name}_js" / f"{name}.wasm",
        out / "witness.wtns",
        out / "snarkjs.zkey",
        out / "contributed.zkey",
        out / "beacon.zkey",
        out / "verification_key.json",
        out / "proof.json",
        out / "public.json",
    )
    if art.public.exists():
        return art
    # circom2 runs under WASI with the working directory's tree preopened, so run it from the
    # repository with the circomlib include path given relative to it
    run_npm_tool(
        "circom2",
        CIRCUITS_DIR / f"{name}.circom",
        "--O2",
        "--r1cs",
        "--wasm",
        "-o",
        out,
        "-l",
        "node_modules",
        cwd=REPO_ROOT,
        timeout=600,
    )
    (out / "input.json").write_text(json.dumps(INPUTS[name]))
    snarkjs("wtns", "calculate", art.wasm, out / "input.json", art.wtns)
    snarkjs("groth16", "setup", art.r1cs, ptau, art.zkey)
    snarkjs(
        "zkey",
        "contribute",
        art.zkey,
        art.zkey_contributed,
        "--name=first contributor",
        "-e=entropy for the format tests",
    )
    snarkjs(
        "zkey",
        "beacon",
        art.zkey_contributed,
        art.zkey_beacon,
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "10",
        "-n=final beacon",
    )
    snarkjs("zkey", "export", "verificationkey", art.zkey, art.vk)
    snarkjs("groth16", "prove", art.zkey, art.wtns, art.proof, out / "public.tmp")
    os.replace(out / "public.tmp", art.public)  # written last: its presence marks a complete build
    return art


def build(base: Path) -> Artifacts:
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "build.lock", "w") as lock:  # test processes (pytest -n) build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(base)


def _build_locked(base: Path) -> Artifacts:
    ptau = base / "pot_final.ptau"
    phase1 = base / "pot_contributed.ptau"
    if not ptau.exists():
        snarkjs("powersoftau", "new", "bn128", PTAU_POWER, base / "pot_0.ptau")
        snarkjs(
            "powersoftau", "contribute", base / "pot_0.ptau", phase1, "--name=tests", "-e=entropy for the format tests"
        )
        snarkjs("powersoftau", "prepare", "phase2", phase1, base / "pot.tmp")
        os.replace(base / "pot.tmp", ptau)
    return Artifacts(ptau, phase1, {name: _circuit(name, base, ptau) for name in INPUTS})

"""Groth16 proving time and peak memory: ``zkmarket groth16 prove`` against snarkjs and, when
asked, rapidsnark and gnark.

For each size k (default 12, 14, 16, 18; 20 works too, its key takes a few minutes to make) a
circuit whose domain is exactly 2^k rows (``2^k - n_public - 1`` constraints, mixed
multiplications and additions, one public output) is written as .r1cs with a satisfying .wtns;
the .zkey is made straight from an INSECURE known secret (``known_secret_setup``, the key our
setup makes from the known-secret ptau; fine for timing: a prover's work does not depend on who
knows the secret). Inputs are cached in ``benchmarks/.cache/``. The provers then run as child
processes on the same .zkey and .wtns, so start-up and file loading count on every side; each
child's peak resident memory comes from GNU time. Every proof must pass ``snarkjs groth16
verify`` or the run fails. Our ``prove()`` alone is also timed in this process (key and witness
loaded once, best of ``--repeat``), as the proving step to set beside gnark's. Results are
printed as a table and saved to ``benchmarks/results/groth16_prove.json``, with a ``peers``
field that says which peer builds ran.

Peers (each optional; without it its columns are absent and the table says so):

- ``--rapidsnark PATH``: rapidsnark's ``prover`` binary, run whole process like the others
  (``ratio_rapidsnark`` is ours over rapidsnark's). The build this benchmark documents
  (``RAPIDSNARK_BUILD``): iden3/rapidsnark v0.0.5, commit 5b06dc02f3b4, with the submodule
  commits it records (ffiasm b9dce0a78a0e, json 350ff4f7ced7, circom_runtime 839785075f90;
  pistache ae0da38cf1c2 serves only the proof server and is not needed), its CMake ``prover``
  target in Release mode with its x86_64 assembly for Fr and Fq, GMP from Debian's libgmp-dev.
  v0.0.5 is the newest commit whose recorded ffiasm commit could be had when this was built.
  It is built by hand from its fetched source (no build script is committed): the commands are
  ``RAPIDSNARK_BUILD["commands"]``, written into the results with the binary's hash.
- ``--gnark``: builds ``benchmarks/gnark_peer`` (a Go module on gnark v0.15.0 and gnark-crypto
  v0.20.1, pinned by its go.mod and go.sum) with ``go build`` into ``benchmarks/.cache`` and runs
  it per size. It reads the same .r1cs and .wtns and proves the same R1CS with gnark's Groth16;
  gnark's setup is not timed, its ``Prove`` is (best of ``--repeat``), so ``ratio_gnark`` is
  our in-process ``prove()`` over gnark's ``Prove``. Its process memory includes its setup.

Before the proofs, the G2 MSM alone (the kernel of pi_b) is timed at ``--msm-k`` (2^16 points
by default) on full-size and on witness-like scalars, and, with ``--baseline-native`` (another
build of ``prover._native``, e.g. main's ``prover/_native.abi3.so``), beside that build on the
same inputs, whose results must agree. (The benchmark circuit's B reads only the 64 inputs, so
its proofs' own G2 MSM is small.)

    python -m benchmarks groth16 [--sizes 12 16 20] [--repeat 3] [--rapidsnark PATH] [--gnark]
                                 [--profile] [--baseline-native SO]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import importlib.util
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import CACHE_DIR, HERE, save_result
from benchmarks.kernels import G2_GEN, best_of, random_fr, witness_like
from marketplace.npm import REPO_ROOT, npm_bin, run_npm_tool
from prover import kernels
from prover.ceremony.known_secret import known_secret_setup
from prover.field import FR_MODULUS, LIMBS, ints_to_limbs
from prover.formats.r1cs import write_r1cs
from prover.formats.wtns import write_wtns
from prover.formats.zkey import write_zkey
from prover.r1cs import R1CS, SparseMatrix

GNU_TIME = "/usr/bin/time"
# bump when the generated circuit changes, so that cached files are rebuilt
CIRCUIT_VERSION = 1
N_INPUTS = 64
# an INSECURE known secret: these keys only ever prove benchmark circuits
SECRET = {"tau": 0xB3AC4, "alpha": 0xA17A, "beta": 0xBE7A}

# the rapidsnark build the docstring describes; the binary given to --rapidsnark is hashed into
# the results beside it, so that a run says which binary it timed
RAPIDSNARK_BUILD = {
    "repository": "iden3/rapidsnark",
    "tag": "v0.0.5",
    "commit": "5b06dc02f3b447d7d41cfe4abd58dd2d718d9b71",
    "submodules": {
        "depends/ffiasm": "b9dce0a78a0ee172c23cee2465904383ea43f0ec",
        "depends/json": "350ff4f7ced7c4117eae2fb93df02823c8021fcb",
        "depends/circom_runtime": "839785075f90a060a5ee5697c6c6e27f85aa35ee",
        "depends/pistache": "ae0da38cf1c26c3321b19a512e2faffb80ae9867 (proof server only, not built)",
    },
    "build": "CMake target prover, CMAKE_BUILD_TYPE=Release, USE_ASM=ON (x86_64 nasm Fr/Fq), "
    "USE_OPENMP=ON, GMP from Debian's libgmp-dev (static libgmp.a)",
    # by hand, in a copy of the checked-out tree (the build writes into it); no ffiasm generator
    # step: at v0.0.5 the Fr/Fq sources committed in build/ are compiled as they are
    "commands": [
        "apt-get install cmake g++ nasm libgmp-dev",
        "mkdir -p depends/gmp/package/include depends/gmp/package/lib",
        "ln -s /usr/include/x86_64-linux-gnu/gmp.h depends/gmp/package/include/gmp.h",
        "ln -s /usr/lib/x86_64-linux-gnu/libgmp.a depends/gmp/package/lib/libgmp.a",
        "cmake -S . -B build_prover -DCMAKE_BUILD_TYPE=Release -DUSE_ASM=ON -DUSE_OPENMP=ON",
        "cmake --build build_prover --target prover --parallel 2",
        "ldd build_prover/src/prover  # no libgmp: linked statically",
    ],
}
GNARK_DIR = HERE / "gnark_peer"


def benchmark_circuit(k: int, seed: int = 2026) -> tuple[R1CS, np.ndarray]:
    """A satisfiable R1CS with exactly ``2^k - 2`` constraints (domain 2^k with one public
    output) and its witness. Wires: 0 one, 1 the output, then ``N_INPUTS`` private inputs x, then
    one wire v_j per constraint but the last. Even j: ``(x_a + x_c) * x_b = v_j``; odd j:
    ``(v_(j-1) + x_a + 3) * 1 = v_j``; last: ``(v_(j_max) + v_(j_max-1)) * 1 = out``."""
    n = (1 << k) - 2
    first_v = 2 + N_INPUTS
    j = np.arange(n - 1, dtype=np.int64)
    v = first_v + j
    mul, add = j[j % 2 == 0], j[j % 2 == 1]
    xa, xb, xc = (2 + (j // 2 * step + offset) % N_INPUTS for step, offset in ((1, 0), (7, 3), (13, 5)))
    last = np.array([n - 1])
    a = _csr(
        n,
        (mul, xa[mul], 1),
        (add, v[add - 1], 1),
        (last, v[-1:], 1),  # first entries
        (mul, xc[mul], 1),
        (add, xa[add], 1),
        (last, v[-2:-1], 1),  # second
        (add, np.zeros_like(add), 3),
    )  # third: the constant
    b = _csr(n, (mul, xb[mul], 1), (add, np.zeros_like(add), 1), (last, np.zeros(1, np.int64), 1))
    c = _csr(n, (j, v, 1), (last, np.ones(1, np.int64), 1))
    r1cs = R1CS(n_wires=first_v + len(j), n_outputs=1, n_public_inputs=0, n_private_inputs=N_INPUTS, A=a, B=b, C=c)

    rng = np.random.default_rng(seed)
    witness = np.zeros((r1cs.n_wires, LIMBS), dtype=np.uint64)
    witness[0] = ints_to_limbs([1])[0]
    witness[2:first_v] = ints_to_limbs([int.from_bytes(rng.bytes(32), "little") for _ in range(N_INPUTS)], FR_MODULUS)
    # the multiplications read only inputs, the additions only the multiplication before them
    witness[v[mul]] = kernels.fr_mul(kernels.fr_add(witness[xa[mul]], witness[xc[mul]]), witness[xb[mul]])
    witness[v[add]] = kernels.fr_add(
        kernels.fr_add(witness[v[add - 1]], witness[xa[add]]), ints_to_limbs([3] * len(add))
    )
    witness[1] = kernels.fr_add(witness[v[-1:]], witness[v[-2:-1]])[0]
    return r1cs, witness


def _csr(n_rows: int, *entries: tuple[np.ndarray, np.ndarray, int]) -> SparseMatrix:
    """CSR from (rows, wires, coefficient) groups; within a row, entries keep group order."""
    rows = np.concatenate([r for r, _, _ in entries])
    wires = np.concatenate([w for _, w, _ in entries])
    coeffs = ints_to_limbs([c for r, _, c in entries for _ in range(len(r))])
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64)
    return SparseMatrix(indptr, wires[order].astype(np.int64), coeffs[order])


# --- inputs (cached) -------------------------------------------------------------------------


def prepare(k: int, cache: Path = CACHE_DIR, log=print) -> dict[str, Path]:
    """The .r1cs, .wtns and .zkey of size k, built once and cached."""
    base = cache / f"groth16_k{k}_v{CIRCUIT_VERSION}"
    files = {
        "r1cs": base.with_suffix(".r1cs"),
        "wtns": base.with_suffix(".wtns"),
        "zkey": base.with_suffix(".zkey"),
        "vk": base.with_suffix(".vk.json"),
    }
    if not all(files[name].exists() for name in ("r1cs", "wtns", "zkey", "vk")):
        log(f"  building the 2^{k} circuit, witness and key (cached in {cache})")
        cache.mkdir(parents=True, exist_ok=True)
        r1cs, witness = benchmark_circuit(k)
        write_r1cs(r1cs, files["r1cs"])  # writers are atomic
        write_wtns(witness, files["wtns"])
        write_zkey(known_secret_setup(r1cs, **SECRET, progress=True), files["zkey"])
        # snarkjs's own verification key, so that both proofs are checked independently of us
        tmp = files["vk"].with_suffix(".tmp")
        run_npm_tool("snarkjs", "zkey", "export", "verificationkey", files["zkey"], tmp, timeout=3600)
        os.replace(tmp, files["vk"])
    return files


# --- running the provers ---------------------------------------------------------------------


def run_measured(cmd: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (bytes) of a child process; raises on failure.

    The memory comes from GNU time run as the child's parent: Linux carries a process's peak
    RSS over fork and exec, so ``wait4`` on a child of this (large) process would report at
    least this process's own size."""
    seconds, peak, _ = run_measured_output(cmd)
    return seconds, peak


def run_measured_output(cmd: list[str]) -> tuple[float, int, str]:
    """``run_measured`` that also returns the child's standard output."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        done = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss.name, *cmd], capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return seconds, int(rss.read().split()[-1]) * 1024, done.stdout  # %M is in KiB


def zkmarket_cmd() -> list[str]:
    script = Path(sys.executable).parent / "zkmarket"
    return [str(script)] if script.exists() else [shutil.which("zkmarket") or "zkmarket"]


def snarkjs_verifies(vk: Path, public: Path, proof: Path) -> bool:
    return run_npm_tool("snarkjs", "groth16", "verify", vk, public, proof, check=False, timeout=600).returncode == 0


def measure(k: int, files: dict[str, Path], repeat: int, workdir: Path, rapidsnark: Path | None = None) -> dict:
    """Best-of-``repeat`` time and the peak memory of each prover's whole process at size k (ours,
    snarkjs and, if given, the rapidsnark binary); every proof is checked with snarkjs."""
    sides = {
        "zkmarket": lambda proof, public: (
            zkmarket_cmd() + ["groth16", "prove", str(files["zkey"]), str(files["wtns"]), str(proof), str(public)]
        ),
        "snarkjs": lambda proof, public: [
            str(npm_bin("snarkjs")),
            "groth16",
            "prove",
            str(files["zkey"]),
            str(files["wtns"]),
            str(proof),
            str(public),
        ],
    }
    if rapidsnark is not None:
        sides["rapidsnark"] = lambda proof, public: [
            str(rapidsnark),
            str(files["zkey"]),
            str(files["wtns"]),
            str(proof),
            str(public),
        ]
    row: dict = {"k": k, "constraints": (1 << k) - 2}
    for name, cmd in sides.items():
        proof, public = workdir / f"{name}_{k}_proof.json", workdir / f"{name}_{k}_public.json"
        runs = [run_measured(cmd(proof, public)) for _ in range(repeat)]
        if not snarkjs_verifies(files["vk"], public, proof):
            raise RuntimeError(f"the {name} proof at 2^{k} does not verify: the benchmark is void")
        row[f"{name}_seconds"] = min(t for t, _ in runs)
        row[f"{name}_peak_rss_mib"] = max(m for _, m in runs) / 2**20
    row["ratio"] = row["zkmarket_seconds"] / row["snarkjs_seconds"]
    if rapidsnark is not None:
        row["ratio_rapidsnark"] = row["zkmarket_seconds"] / row["rapidsnark_seconds"]
    return row


def prove_in_process(k: int, files: dict[str, Path], repeat: int, workdir: Path) -> float:
    """Best-of-``repeat`` seconds of our ``prove()`` alone: the key and witness are read once,
    outside the timing. The last proof is checked with snarkjs like the others."""
    from prover.formats.snarkjs_json import write_proof, write_public
    from prover.formats.wtns import read_wtns
    from prover.formats.zkey import read_zkey
    from prover.groth16.prove import prove

    pk, witness = read_zkey(files["zkey"], montgomery_points=True), read_wtns(files["wtns"])
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proof, signals = prove(pk, witness)
        times.append(time.perf_counter() - start)
    del pk, witness
    proof_path, public_path = workdir / f"in_process_{k}_proof.json", workdir / f"in_process_{k}_public.json"
    write_proof(proof, proof_path)
    write_public(signals, public_path)
    if not snarkjs_verifies(files["vk"], public_path, proof_path):
        raise RuntimeError(f"the in-process proof at 2^{k} does not verify: the benchmark is void")
    return min(times)


# --- gnark (benchmarks/gnark_peer) -------------------------------------------------------------


def go_binary() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    return "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None


def build_gnark(cache: Path = CACHE_DIR) -> Path:
    """``go build`` of ``benchmarks/gnark_peer`` into the cache (Go's own build cache makes a
    rebuild of unchanged sources quick); its modules are pinned by go.mod and go.sum."""
    go = go_binary()
    if go is None:
        raise RuntimeError("--gnark needs the go command (on PATH or at /usr/local/go/bin/go)")
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / "gnark_peer"
    done = subprocess.run(
        [go, "build", "-trimpath", "-o", str(out), "."], cwd=GNARK_DIR, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"go build of {GNARK_DIR} failed:\n{done.stdout}{done.stderr}")
    return out


def measure_gnark(binary: Path, files: dict[str, Path], repeat: int) -> dict:
    """gnark's Groth16 on the same R1CS and witness: its setup (not a proving cost), its best
    ``Prove`` of ``repeat``, and its whole process's peak memory (setup included)."""
    _, peak, out = run_measured_output(
        [str(binary), "-r1cs", str(files["r1cs"]), "-wtns", str(files["wtns"]), "-repeat", str(repeat)]
    )
    result = json.loads(out)
    if not result.get("verified"):
        raise RuntimeError("gnark's proof did not verify: the benchmark is void")
    return {**result, "peak_rss_bytes": peak}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def profile(files: dict[str, Path], top: int = 20) -> str:
    """Where our prover's time goes: cProfile of the CLI command, in this process."""
    from marketplace.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile()
        profiler.enable()
        cli_main(
            ["groth16", "prove", str(files["zkey"]), str(files["wtns"]), f"{tmp}/proof.json", f"{tmp}/public.json"]
        )
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def load_native(path: Path):
    """Another build of ``prover._native`` as a module of its own (its init symbol fixes the name)."""
    spec = importlib.util.spec_from_file_location("_native", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{path} is not a loadable extension module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def g2_msm_rows(k: int, repeat: int, baseline: Path | None, seed: int = 2026) -> list[dict]:
    """Best-of-``repeat`` seconds of ``g2_msm`` on 2^k random G2 points, for full-size and for
    witness-like scalars, with ours and (if given) the baseline build on the same inputs."""
    rng = np.random.default_rng(seed)
    points = kernels.g2_batch_mul(G2_GEN, random_fr(rng, 1 << k))
    builds = {"zkmarket": kernels.g2_msm}
    if baseline is not None:
        builds["baseline"] = load_native(baseline).g2_msm
    rows = []
    for name, scalars in (("full-size", random_fr(rng, 1 << k)), ("witness-like", witness_like(rng, 1 << k))):
        sums = {build: msm(points, scalars) for build, msm in builds.items()}
        if any((other != sums["zkmarket"]).any() for other in sums.values()):
            raise RuntimeError(f"the baseline's G2 MSM disagrees with ours on the {name} scalars")
        row = {"k": k, "scalars": name}
        for build, msm in builds.items():
            row[f"{build}_seconds"] = best_of(repeat, msm, points, scalars)
        rows.append(row)
    return rows


def g2_msm_table(rows: list[dict]) -> str:
    lines = [f"{'G2 MSM':>8} {'scalars':>13} {'zkmarket s':>11} {'baseline s':>11} {'speed-up':>9}"]
    for r in rows:
        base = r.get("baseline_seconds")
        lines.append(
            f"{'2^' + str(r['k']):>8} {r['scalars']:>13} {r['zkmarket_seconds']:>11.3f} "
            + (f"{base:>11.3f} {base / r['zkmarket_seconds']:>8.2f}x" if base else f"{'-':>11} {'-':>9}")
        )
    return "\n".join(lines)


# (header, row key, format): a column is shown when some row has its key
COLUMNS = (
    ("constraints", "constraints", "d"),
    ("zkmarket s", "zkmarket_seconds", ".2f"),
    ("prove() s", "zkmarket_prove_seconds", ".2f"),
    ("snarkjs s", "snarkjs_seconds", ".2f"),
    ("ratio", "ratio", ".2f"),
    ("rapidsnark s", "rapidsnark_seconds", ".2f"),
    ("ratio_rs", "ratio_rapidsnark", ".2f"),
    ("gnark Prove s", "gnark_prove_seconds", ".2f"),
    ("ratio_gnark", "ratio_gnark", ".2f"),
    ("zkmarket MiB", "zkmarket_peak_rss_mib", ".0f"),
    ("snarkjs MiB", "snarkjs_peak_rss_mib", ".0f"),
    ("rapidsnark MiB", "rapidsnark_peak_rss_mib", ".0f"),
    ("gnark MiB*", "gnark_peak_rss_mib", ".0f"),
)


def table(rows: list[dict]) -> str:
    """Whole-process seconds and MiB, ``prove()`` and gnark's ``Prove`` alone, and the ratios
    (ours over theirs: below 1 is faster); gnark's MiB* includes its setup."""
    columns = [c for c in COLUMNS if any(c[1] in r for r in rows)]
    lines = [" ".join(f"{header:>{max(len(header), 6)}}" for header, _, _ in columns)]
    for r in rows:
        cells = []
        for header, key, fmt in columns:
            width = max(len(header), 6)
            cells.append(f"{r[key]:>{width}{fmt}}" if key in r else f"{'-':>{width}}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks groth16", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[12, 14, 16, 18],
        metavar="K",
        help="log2 of the domain size of each benchmark circuit",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per prover and size (best time kept)")
    parser.add_argument(
        "--rapidsnark",
        type=Path,
        metavar="PATH",
        help="rapidsnark's prover binary, to run on the same files (see the module's docstring for its build)",
    )
    parser.add_argument(
        "--gnark", action="store_true", help="also build and run benchmarks/gnark_peer (needs Go) on the same R1CS"
    )
    parser.add_argument("--profile", action="store_true", help="also profile our prover at the largest size")
    parser.add_argument("--msm-k", type=int, default=16, metavar="K", help="log2 of the G2 MSM's size (0: skip it)")
    parser.add_argument(
        "--baseline-native",
        type=Path,
        metavar="SO",
        help="another build of prover._native to time the G2 MSM against (e.g. main's _native.abi3.so)",
    )
    args = parser.parse_args(argv)
    if not os.access(GNU_TIME, os.X_OK):
        print(f"{GNU_TIME} (GNU time) is needed to measure peak memory: apt-get install time", file=sys.stderr)
        return 1
    if args.rapidsnark is not None and not os.access(args.rapidsnark, os.X_OK):
        print(f"--rapidsnark {args.rapidsnark} is not an executable file", file=sys.stderr)
        return 1
    if args.gnark and go_binary() is None:
        print("--gnark needs the go command (on PATH or at /usr/local/go/bin/go)", file=sys.stderr)
        return 1

    snarkjs_version = json.loads((REPO_ROOT / "node_modules/snarkjs/package.json").read_text())["version"]
    backends = sorted(set(kernels.BACKEND.values()))
    print(
        f"groth16 prove: zkmarket ({'/'.join(backends)} kernels) vs snarkjs {snarkjs_version}, {os.cpu_count()} cores"
    )
    if "reference" in backends:
        slow = [name for name, b in kernels.BACKEND.items() if b == "reference"]
        print(f"  warning: py_ecc reference kernels in use for {', '.join(slow)}: expect very slow runs")
    msm_rows = []
    if args.msm_k:
        msm_rows = g2_msm_rows(args.msm_k, max(args.repeat, 3), args.baseline_native)
        print(g2_msm_table(msm_rows), flush=True)
    absent = []
    if args.rapidsnark is None:
        absent.append("rapidsnark: not run (pass --rapidsnark PATH)")
    gnark_binary = None
    if args.gnark:
        print("building benchmarks/gnark_peer", flush=True)
        gnark_binary = build_gnark()
    else:
        absent.append("gnark: not run (pass --gnark)")
    rows = []
    gnark_runs = []
    with tempfile.TemporaryDirectory() as workdir:
        for k in args.sizes:
            print(f"2^{k}:", flush=True)
            files = prepare(k)
            row = measure(k, files, args.repeat, Path(workdir), args.rapidsnark)
            row["zkmarket_prove_seconds"] = prove_in_process(k, files, args.repeat, Path(workdir))
            if gnark_binary is not None:
                gnark = measure_gnark(gnark_binary, files, args.repeat)
                if gnark["constraints"] != row["constraints"]:
                    raise RuntimeError(f"gnark built {gnark['constraints']} constraints, ours has {row['constraints']}")
                gnark_runs.append(gnark)
                row["gnark_prove_seconds"] = gnark["prove_seconds"]
                row["gnark_setup_seconds"] = gnark["setup_seconds"]
                row["gnark_peak_rss_mib"] = gnark["peak_rss_bytes"] / 2**20
                row["ratio_gnark"] = row["zkmarket_prove_seconds"] / row["gnark_prove_seconds"]
            rows.append(row)
            print(table(rows[-1:]).splitlines()[1], flush=True)
    print(table(rows))
    whole = "zkmarket, snarkjs" + (", rapidsnark" if args.rapidsnark is not None else "")
    legend = f"{whole}: whole process; prove(): our prove() alone, in process"
    print(legend + ("; gnark: Prove alone (MiB*: its process, setup included)" if gnark_runs else ""))
    for note in absent:
        print(f"  {note}")
    peers: dict = {"snarkjs": {"version": snarkjs_version}, "absent": absent}
    if args.rapidsnark is not None:
        peers["rapidsnark"] = {
            **RAPIDSNARK_BUILD,
            "binary": str(args.rapidsnark),
            "binary_sha256": file_sha256(args.rapidsnark),
        }
    if gnark_runs:
        peers["gnark"] = {key: gnark_runs[0][key] for key in ("gnark", "gnark_crypto", "go", "circuit")}
    report = {
        "benchmark": "groth16_prove",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "snarkjs": snarkjs_version,
        "peers": peers,
        "kernels": kernels.BACKEND,
        "native_build": kernels.NATIVE_BUILD,
        "repeat": args.repeat,
        "rows": rows,
        "g2_msm": msm_rows,
        "g2_msm_baseline": str(args.baseline_native) if args.baseline_native else None,
    }
    if args.profile:
        report["profile"] = profile(prepare(max(args.sizes)))
        print(report["profile"])
    save_result("groth16_prove.json", report)
    return 0

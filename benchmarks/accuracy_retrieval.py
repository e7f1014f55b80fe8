"""The statements that batch: constraints, prove time and peak memory as the number of
requests (batched inference), samples (accuracy) or corpus items (retrieval) grows.

The model is the smallest example model (``mlp``, quantized as the catalog says) on the digits
test split (test samples repeat past the split's 360 for the 1000-sample case). For every case
the circuit is built and its constraints counted (``per_sample`` = the growth per sample over
the previous size; the weight commitment is paid once per proof). Cases whose Groth16 domain is
at most 2^``--max-power`` are also proved, each in a child process so that its peak resident
memory (``ru_maxrss``) is its own: circuit build, witness, the key made straight from an
INSECURE known secret (``known_secret_setup``: the key a setup from the known-secret ptau
would give, without building a ptau of twice the domain; fine for timing), prove, verify.
Larger cases are reported with their domain and ``"proved": false``. Results are printed as a
table and saved to ``benchmarks/results/accuracy_retrieval.json``.

For a batched inference the table's ``per item`` prove time is the proof's time divided by the
batch: the weights are committed and range checked once per proof, so a prediction in a batch
costs less than a single request's proof (the batch of 1).

    python -m benchmarks accuracy_retrieval [--batch 1 8 32 64] [--accuracy 10 100 1000]
        [--retrieval 64 256] [--mode private|public] [--max-power 23]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks import RESULTS_DIR
from prover.formats.binfile import atomic_output

# an INSECURE known secret: these keys only ever prove benchmark circuits
SECRET = (0xACC0, 0x5EED, 0xBE7A)


def _digits(n: int):
    """(quantized graph, n quantized digits test inputs, their labels)."""
    from marketplace.models import digits_split, example_models, model_inputs
    from prover.onnx import executor
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import quantize

    x_tr, _, x_te, y_te = digits_split()
    m = example_models()["mlp"]
    q = quantize(import_model(m.path), model_inputs(m.input_shape, x_tr), m.precision)
    index = np.arange(n) % len(y_te)
    return q, executor.quantize_input(q, model_inputs(m.input_shape, x_te[index])), y_te[index]


def _build(q, kind: str, n: int, mode: str):
    from prover.circuit import accuracy as A
    from prover.circuit import retrieval as R
    from prover.circuit import statements as S

    if kind == "batch":
        return S.inference_circuit(q, mode, batch=n)
    return A.accuracy_circuit(q, n, mode) if kind == "accuracy" else R.retrieval_circuit(q, n, mode)


def _circuit(kind: str, n: int, mode: str):
    from prover.circuit import accuracy as A

    q, x, y = _digits(n)
    t0 = time.perf_counter()
    if kind == "batch":
        circuit = _build(q, kind, n, mode)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        witness = circuit.batch_witness(x, list(range(1, n + 1))).witness
    elif kind == "accuracy":
        circuit = _build(q, kind, n, mode)
        build = time.perf_counter() - t0
        _, pool_x, pool_y = _digits(360)  # the digits test split is the pool the n samples are drawn from
        t0 = time.perf_counter()
        pool = A.build_pool(q, pool_x, pool_y)
        witness = circuit.witness(pool, A.make_draw(12345, pool.size, n)).witness
    else:
        circuit = _build(q, kind, n, mode)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        witness = circuit.witness(x, 3).witness
    return circuit.r1cs, witness, build, time.perf_counter() - t0


def prove_case(kind: str, n: int, mode: str) -> dict:
    """One proved case (run in a child process): timings and this process's peak memory."""
    from prover.ceremony.known_secret import known_secret_setup
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    r1cs, witness, build, witness_s = _circuit(kind, n, mode)
    t0 = time.perf_counter()
    pk = known_secret_setup(r1cs, *SECRET, progress=True)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    proof, public = prove(pk, witness, r1cs=r1cs)
    prove_s = time.perf_counter() - t0
    if not verify(pk.verifying_key(), public, proof):
        raise RuntimeError(f"the {kind} proof for {n} does not verify")
    return {
        "build_s": round(build, 2),
        "witness_s": round(witness_s, 2),
        "setup_s": round(setup_s, 2),
        "prove_s": round(prove_s, 2),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def count_case(kind: str, n: int, mode: str) -> dict:
    from prover.groth16 import qap

    q, _, _ = _digits(1)
    t0 = time.perf_counter()
    r1cs = _build(q, kind, n, mode).r1cs
    domain = qap.domain_size(r1cs.n_constraints, r1cs.n_public)
    return {
        "kind": kind,
        "n": n,
        "mode": mode,
        "constraints": r1cs.n_constraints,
        "wires": r1cs.n_wires,
        "domain_power": domain.bit_length() - 1,
        "build_s": round(time.perf_counter() - t0, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks accuracy_retrieval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batch", type=int, nargs="*", default=[1, 8, 32, 64])
    parser.add_argument("--accuracy", type=int, nargs="*", default=[10, 100, 1000])
    parser.add_argument("--retrieval", type=int, nargs="*", default=[64, 256])
    parser.add_argument("--mode", choices=("private", "public"), default="private")
    parser.add_argument("--max-power", type=int, default=23, help="prove only cases with a domain up to 2^this")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # child process: KIND:N:MODE
    args = parser.parse_args(argv)
    if args.case:
        kind, n, mode = args.case.split(":")
        print(json.dumps(prove_case(kind, int(n), mode)))
        return 0
    rows = []
    cases = [("batch", n) for n in args.batch] + [("accuracy", n) for n in args.accuracy]
    cases += [("retrieval", n) for n in args.retrieval]
    for kind, n in cases:
        row = count_case(kind, n, args.mode)
        row["proved"] = row["domain_power"] <= args.max_power
        if row["proved"]:
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.accuracy_retrieval", "--case", f"{kind}:{n}:{args.mode}"],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            row.update(json.loads(child.stdout.strip().splitlines()[-1]))
            row["prove_s_per_item"] = round(row["prove_s"] / n, 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    for kind in ("batch", "accuracy", "retrieval"):
        mine = [r for r in rows if r["kind"] == kind]
        for prev, cur in zip(mine, mine[1:]):
            cur["per_sample"] = round((cur["constraints"] - prev["constraints"]) / (cur["n"] - prev["n"]), 1)
    print(
        f"{'statement':<10} {'n':>5} {'constraints':>12} {'per item':>9} {'2^k':>4} {'witness s':>9} "
        f"{'setup s':>8} {'prove s':>8} {'per item':>9} {'peak MiB':>9}"
    )
    for r in rows:
        print(
            f"{r['kind']:<10} {r['n']:>5} {r['constraints']:>12,} {r.get('per_sample', ''):>9} "
            f"{r['domain_power']:>4} {r.get('witness_s', '-'):>9} {r.get('setup_s', '-'):>8} "
            f"{r.get('prove_s', '-'):>8} {r.get('prove_s_per_item', '-'):>9} {r.get('peak_rss_mib', '-'):>9}"
        )
    save(rows)
    return 0


def save(rows: list[dict]) -> None:
    """Write the rows into the results file, replacing the earlier rows of the same case (kind,
    n, mode) and keeping the others, so that a run of some cases does not drop the rest."""
    path = RESULTS_DIR / "accuracy_retrieval.json"
    case = lambda row: (row["kind"], row["n"], row["mode"])  # noqa: E731
    kept = json.loads(path.read_text())["rows"] if path.exists() else []
    merged = {case(r): r for r in kept} | {case(r): dict(r, load_average=list(os.getloadavg())) for r in rows}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "w") as out:
        json.dump(
            {
                "machine": platform.platform(),
                "cores": os.cpu_count(),
                "model": "mlp",
                "rows": sorted(merged.values(), key=lambda r: (r["kind"], r["mode"], r["n"])),
            },
            out,
            indent=1,
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

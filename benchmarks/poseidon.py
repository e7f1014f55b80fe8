"""Poseidon hashing speed beside circomlibjs (its wasm build, the hash the circuits' gadget is
checked against), in the same run.

Hashes ``--rows`` random rows of width 16 (the commitment tree's node hash) with the native
``poseidon_permute`` kernel (``prover.poseidon.poseidon_batch``) and with circomlibjs; circomlibjs
is timed inside its node process, after its wasm is built, so process start is not counted. The
plain-Python kernel reference is timed on a tenth of the rows. Every digest of ours is checked
against circomlibjs's. Results go to ``benchmarks/results/poseidon.json``.

    python -m benchmarks.poseidon [--rows 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from benchmarks import save_result
from marketplace.npm import run_node_json
from prover import kernels, poseidon
from prover.field import FR_MODULUS, LIMBS, ints_to_limbs
from prover.kernels import reference

WIDTH = 16

NODE_TIMER = """
import { buildPoseidon } from "circomlibjs";
let data = "";
process.stdin.on("data", (c) => { data += c; });
process.stdin.on("end", async () => {
  const poseidon = await buildPoseidon();
  const rows = JSON.parse(data).map((r) => r.map(BigInt));
  const start = process.hrtime.bigint();
  const out = rows.map((r) => poseidon.F.toString(poseidon(r)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ seconds, out }));
});
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.poseidon", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="width-16 rows to hash")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(2026)
    rows = [[int.from_bytes(rng.bytes(32), "little") % FR_MODULUS for _ in range(WIDTH)] for _ in range(args.rows)]

    start = time.perf_counter()
    ours = poseidon.poseidon_batch(rows)
    native_s = time.perf_counter() - start

    few = rows[: max(args.rows // 10, 1)]
    constants, mds = poseidon._kernel_parameters(WIDTH + 1)
    states = ints_to_limbs([v for r in few for v in [0, *r]]).reshape(len(few), WIDTH + 1, LIMBS)
    start = time.perf_counter()
    reference.poseidon_permute(states, constants, mds, poseidon.FULL_ROUNDS)
    reference_s = (time.perf_counter() - start) * len(rows) / len(few)

    peer = run_node_json(NODE_TIMER, [[str(v) for v in r] for r in rows])
    if [int(v) for v in peer["out"]] != ours:
        print("circomlibjs and prover.poseidon disagree: not a benchmark, a bug", file=sys.stderr)
        return 1

    per = {
        "native kernel": native_s,
        "circomlibjs (wasm)": peer["seconds"],
        "python reference (extrapolated)": reference_s,
    }
    print(f"\nPoseidon, {args.rows} rows of width {WIDTH} (t = {WIDTH + 1})")
    for name, seconds in per.items():
        print(
            f"{name:<34} {seconds:>8.2f} s {seconds / args.rows * 1e6:>9.1f} us/hash {seconds / peer['seconds']:>6.2f}x"
        )
    result = {
        "rows": args.rows,
        "width": WIDTH,
        "backend": kernels.BACKEND["poseidon_permute"],
        "seconds": per,
        "ratio_to_circomlibjs": {k: v / peer["seconds"] for k, v in per.items()},
        "load_average": round(os.getloadavg()[0], 1),
    }
    save_result("poseidon.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

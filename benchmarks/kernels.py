"""Speed of the native BN254 kernels (prover._native) on this machine.

Times each kernel on random inputs at the sizes the prover and the setup meet: G1/G2 MSM at
2^12, 2^16 and 2^18 points with full-size scalars and with witness-like small signed scalars;
NTT, inverse and coset NTT at 2^16, 2^18 and 2^20; the group inverse NTT of phase-2 preparation
(G1 and G2 points, 2^12 to 2^15) in one kernel call, beside the stage-by-stage path it replaced
(one sparse-kernel round trip per radix-2 stage); sparse matrix-vector and sparse
point-combination products shaped like R1CS matrices; batch multiplication; Montgomery
conversions and Fr products on 2^20 elements; a 4-pair pairing check. Each figure is the best
of ``--repeat`` runs. The table is printed and saved to ``benchmarks/results/kernels.json`` (a
run with ``--only`` keeps the other rows of the file).

    python -m benchmarks.kernels [--quick] [--repeat 3] [--only msm ntt group_ntt ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
from tqdm import tqdm

from benchmarks import RESULTS_DIR, save_result
from prover import kernels
from prover.ceremony.prepare_phase2 import group_intt_by_stages
from prover.field import FR_MODULUS, ints_to_limbs, signed_to_fr
from prover.kernels.reference import bn, g1_to_array, g2_to_array

G1_GEN = g1_to_array(bn.G1)
G2_GEN = g2_to_array(bn.G2)


def random_fr(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform elements below r: random limbs with the top limb drawn below r's top limb, so
    every value is below r without rejection (the top limb's last value is left out)."""
    out = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    top = ints_to_limbs([FR_MODULUS])[0, 3]
    out[:, 3] = rng.integers(0, top, size=n, dtype=np.uint64)
    return out


def witness_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Scalars shaped like a quantized network's witness: mostly small signed values (the
    activations, bits and range-check limbs), with an eighth of full-size ones (hashes)."""
    values = signed_to_fr(rng.integers(-(2**15), 2**15, size=n))
    big = rng.random(n) < 0.125
    values[big] = random_fr(rng, int(big.sum()))
    return values


def random_csr(rng: np.random.Generator, rows: int, columns: int, per_row: int, scalars):
    """A CSR matrix with `per_row` entries a row on average (0 to 2*per_row)."""
    counts = rng.integers(0, 2 * per_row + 1, size=rows)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    nnz = int(indptr[-1])
    indices = rng.integers(0, columns, size=nnz, dtype=np.int64)
    return indptr, indices, scalars(rng, nnz)


def best_of(repeat: int, fn, *args) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def cases(rng: np.random.Generator, quick: bool):
    """(group, label, size, fn, args) for every timed call; inputs are built lazily."""
    msm_sizes = [12, 14] if quick else [12, 16, 18]
    ntt_sizes = [14, 16] if quick else [16, 18, 20]
    bulk = 1 << (16 if quick else 20)
    sparse_rows = 1 << (14 if quick else 18)

    points = {}

    def table(group: str, n: int) -> np.ndarray:
        # distinct random points, made once at the largest size and sliced
        if group not in points or len(points[group]) < n:
            gen = G1_GEN if group == "g1" else G2_GEN
            batch_mul = kernels.g1_batch_mul if group == "g1" else kernels.g2_batch_mul
            points[group] = batch_mul(gen, random_fr(rng, n))
        return points[group][:n]

    for group in ("g1", "g2"):
        msm = getattr(kernels, f"{group}_msm")
        for k in msm_sizes:
            n = 1 << k
            yield (
                "msm",
                f"{group}_msm (full-size scalars)",
                n,
                msm,
                lambda n=n, g=group: (table(g, n), random_fr(rng, n)),
            )
            yield (
                "msm",
                f"{group}_msm (witness-like scalars)",
                n,
                msm,
                lambda n=n, g=group: (table(g, n), witness_like(rng, n)),
            )
    for k in ntt_sizes:
        n = 1 << k
        yield "ntt", "ntt", n, kernels.ntt, lambda n=n: (random_fr(rng, n),)
        yield "ntt", "intt", n, kernels.intt, lambda n=n: (random_fr(rng, n),)
        yield "ntt", "coset_ntt", n, kernels.coset_ntt, lambda n=n: (random_fr(rng, n), 5)
    for k in [10, 12] if quick else [12, 13, 14, 15]:
        n = 1 << k
        for group in ("g1", "g2"):
            yield (
                "group_ntt",
                f"{group}_intt (one kernel call)",
                n,
                getattr(kernels, f"{group}_intt"),
                lambda n=n, g=group: (table(g, n),),
            )
            yield (
                "group_ntt",
                f"{group}_intt (stage by stage, before)",
                n,
                group_intt_by_stages,
                lambda n=n, g=group: (table(g, n), g),
            )
    yield (
        "sparse",
        "sparse_matvec (3 per row, full-size)",
        sparse_rows,
        kernels.sparse_matvec,
        lambda: random_csr(rng, sparse_rows, sparse_rows, 3, random_fr) + (random_fr(rng, sparse_rows),),
    )
    lincomb_rows = sparse_rows // 4
    for group in ("g1", "g2"):
        yield (
            "sparse",
            f"{group}_sparse_lincomb (3 per row, small signed)",
            lincomb_rows,
            getattr(kernels, f"{group}_sparse_lincomb"),
            lambda g=group: (
                random_csr(rng, lincomb_rows, lincomb_rows, 3, lambda r, n: signed_to_fr(r.integers(-64, 64, size=n)))
                + (table(g, lincomb_rows),)
            ),
        )
        yield (
            "batch_mul",
            f"{group}_batch_mul",
            lincomb_rows,
            getattr(kernels, f"{group}_batch_mul"),
            lambda g=group: (G1_GEN if g == "g1" else G2_GEN, random_fr(rng, lincomb_rows)),
        )
    for field in ("fr", "fq"):
        yield (
            "field",
            f"to_montgomery ({field})",
            bulk,
            kernels.to_montgomery,
            lambda f=field: (random_fr(rng, bulk), f),
        )
        yield (
            "field",
            f"from_montgomery ({field})",
            bulk,
            kernels.from_montgomery,
            lambda f=field: (random_fr(rng, bulk), f),
        )
    yield "field", "fr_mul", bulk, kernels.fr_mul, lambda: (random_fr(rng, bulk), random_fr(rng, bulk))
    yield (
        "pairing",
        "pairing_check (4 pairs)",
        4,
        kernels.pairing_check,
        lambda: (kernels.g1_batch_mul(G1_GEN, random_fr(rng, 4)), kernels.g2_batch_mul(G2_GEN, random_fr(rng, 4))),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernels", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["msm", "ntt", "group_ntt", "sparse", "batch_mul", "field", "pairing"],
        help="only these groups of kernels",
    )
    args = parser.parse_args(argv)
    if any(backend != "native" for backend in kernels.BACKEND.values()):
        print("some kernels are not native; rebuild with `pip install -e .`", file=sys.stderr)
        return 1

    rng = np.random.default_rng(2026)
    chosen = [c for c in cases(rng, args.quick) if not args.only or c[0] in args.only]
    rows = []
    for group, label, size, fn, make_args in tqdm(chosen, desc="kernels", unit="case"):
        inputs = make_args()
        seconds = best_of(args.repeat, fn, *inputs)
        # the machine is shared: the load beside each figure says how far to trust it
        rows.append(
            {
                "group": group,
                "kernel": label,
                "size": size,
                "seconds": seconds,
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
        del inputs

    print(f"\n{'kernel':<46} {'size':>9} {'time':>11} {'per element':>13} {'load':>6}")
    for row in rows:
        size = row["size"]
        size_text = f"2^{size.bit_length() - 1}" if size & (size - 1) == 0 else str(size)
        print(
            f"{row['kernel']:<46} {size_text:>9} {row['seconds'] * 1e3:>8.1f} ms "
            f"{row['seconds'] / size * 1e9:>10.0f} ns {row['load_average']:>6.1f}"
        )

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "repeat": args.repeat,
        "quick": args.quick,
        "rows": rows,
    }
    path = RESULTS_DIR / ("kernels_quick.json" if args.quick else "kernels.json")
    if args.only and path.exists():  # keep the rows of the kernels this run did not measure
        measured = {(r["kernel"], r["size"]) for r in rows}
        rows[:0] = [r for r in json.loads(path.read_text())["rows"] if (r["kernel"], r["size"]) not in measured]
    save_result(path.name, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`zkmarket model prove` end to end beside the Groth16 prover alone, on the example models.

What a provider runs per request from the command line (``model prove``: start-up, the compiled
folder read and checked, the witness program rebuilt, the witness, the key read, the proof,
its check against the key and the files written) is timed in the same run as the proving it
wraps, two ways:

process     ``zkmarket groth16 prove`` on the folder's .zkey and a .wtns of the same input
            (start-up, key and witness read, proof written): the Groth16 prover alone as a command;
in-process  ``prover.groth16.prove.prove`` on the key and witness loaded once: the proving step.

Each is best of ``--repeat``, the three interleaved so that load from other work on the machine
falls on all of them alike, and both ratios (end to end over each) are reported; the target is
end to end within ``TARGET`` times the process (issue 17). Child processes run as an installed
package does, from cached bytecode (``PYTHONPYCACHEPREFIX`` in ``benchmarks/.cache``, warmed by
one untimed run): an environment with ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every
module a command imports from source on each run. The compiled, set-up model is cached too
(keyed by the ONNX file, the precision and the versions of the circuits and the folder), on an
INSECURE known-secret ptau (``models.cached_ptau``; fine for timing). Every proof made is
verified with ``zkmarket model verify``, and the two commands' public signals must agree.

    python -m benchmarks model_prove [--repeat 3] [--models mlp cnn]   (default: the digits MLP)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import CACHE_DIR, save_result
from benchmarks.groth16_prove import zkmarket_cmd
from benchmarks.models import cached_ptau, run_capped
from marketplace.models import digits_split, example_models, model_inputs

TARGET = 1.3
SALT = "0x5a17"
PYCACHE = CACHE_DIR / "pycache"


def child_env() -> dict[str, str]:
    """The environment of the timed commands: bytecode cached under ``PYCACHE``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def zkmarket(log: Path, *args, env: dict | None = None) -> dict:
    """Run one zkmarket command as a child process (``models.run_capped``: wall and CPU
    seconds, peak memory); RuntimeError with the end of its log when it fails."""
    result = run_capped(zkmarket_cmd() + [str(a) for a in args], log, env=env)
    if result["status"] != "ok":
        raise RuntimeError(f"zkmarket {' '.join(map(str, args[:2]))} {result['status']}:\n{log.read_text()[-3000:]}")
    return result


def compiled_model(name: str, log=print) -> Path:
    """The example model compiled (digits training split as calibration, its catalog precision)
    and set up, cached under a digest of what makes the folder."""
    from marketplace.setup.model_folder import FORMAT_VERSION
    from prover.circuit.statements import CIRCUIT_FORMAT
    from prover.groth16.qap import domain_size

    model = example_models()[name]
    made_of = Path(model.path).read_bytes() + repr((model.precision, CIRCUIT_FORMAT, FORMAT_VERSION)).encode()
    folder = CACHE_DIR / f"model_prove_{name}_{hashlib.sha256(made_of).hexdigest()[:16]}"
    if (folder / "circuit.zkey").exists():
        return folder
    log(f"  compiling and setting up {name} (cached in {folder})")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        work, outdir = Path(tmp), Path(tmp) / "model"
        np.save(work / "calibration.npy", model_inputs(model.input_shape, digits_split()[0]))
        bits = (model.precision.act_bits, model.precision.weight_bits)
        calibration = ("--calibration", work / "calibration.npy", "--bits", *bits)
        zkmarket(work / "log.txt", "model", "compile", model.path, outdir, *calibration)
        info = json.loads((outdir / "model.json").read_text())
        power = domain_size(info["constraints"], len(info["public_inputs"])).bit_length() - 1
        zkmarket(work / "log.txt", "model", "setup", outdir, "--ptau", cached_ptau(power))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(outdir, folder)  # complete or absent
    return folder


def measure(folder: Path, x: np.ndarray, repeat: int, work: Path) -> dict:
    """Best-of-``repeat`` end to end, process and in-process times on one input."""
    from prover.formats.wtns import read_wtns
    from prover.formats.zkey import read_zkey
    from prover.groth16.prove import prove

    np.save(work / "input.npy", x)
    log, env = work / "log.txt", child_env()
    e2e = ("model", "prove", folder, work / "input.npy", work / "proof.json", work / "public.json", "--salt", SALT)
    key = folder / "circuit.zkey"
    alone = ("groth16", "prove", key, work / "w.wtns", work / "proof_g.json", work / "public_g.json")
    zkmarket(log, "model", "witness", folder, work / "input.npy", work / "w.wtns", "--salt", SALT, env=env)
    zkmarket(log, *e2e, env=env)  # untimed: they write the bytecode cache
    zkmarket(log, *alone, env=env)
    pk, witness = read_zkey(key, montgomery_points=True), read_wtns(work / "w.wtns")
    runs: dict[str, list[dict]] = {"model_prove": [], "groth16_prove": [], "prove_in_process": []}
    for _ in range(repeat):
        runs["model_prove"].append(zkmarket(log, *e2e, env=env))
        runs["groth16_prove"].append(zkmarket(log, *alone, env=env))
        start, cpu = time.perf_counter(), time.process_time()
        prove(pk, witness)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        runs["prove_in_process"].append({"seconds": seconds, "cpu_seconds": cpu_seconds})
    for proof, public in (("proof.json", "public.json"), ("proof_g.json", "public_g.json")):
        zkmarket(log, "model", "verify", folder, work / proof, work / public)
    if json.loads((work / "public.json").read_text()) != json.loads((work / "public_g.json").read_text()):
        raise RuntimeError("the two commands proved different public signals: the benchmark is void")
    best = {name: min(r, key=lambda run: run["seconds"]) for name, r in runs.items()}
    seconds = best["model_prove"]["seconds"]
    return {
        "best": best,
        "runs": runs,
        "ratio_to_process": seconds / best["groth16_prove"]["seconds"],
        "ratio_to_in_process": seconds / best["prove_in_process"]["seconds"],
        "cpu_ratio_to_process": best["model_prove"]["cpu_seconds"] / best["groth16_prove"]["cpu_seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks model_prove", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["mlp"], choices=sorted(example_models()))
    args = parser.parse_args(argv)
    print(
        f"model prove end to end vs the prover alone, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = []
    for name in args.models:
        folder = compiled_model(name)
        info = json.loads((folder / "model.json").read_text())
        x = model_inputs(example_models()[name].input_shape, digits_split()[2][:1])[0]
        with tempfile.TemporaryDirectory(prefix="bench_model_prove_") as tmp:
            row = {"model": name, "constraints": info["constraints"], **measure(folder, x, args.repeat, Path(tmp))}
        row["target_met"] = row["ratio_to_process"] <= TARGET
        best = row["best"]
        print(
            f"  {name} ({info['constraints']:,} constraints): model prove {best['model_prove']['seconds']:.3f} s, "
            f"groth16 prove {best['groth16_prove']['seconds']:.3f} s, "
            f"prove() {best['prove_in_process']['seconds']:.3f} s; "
            f"end to end / groth16 prove {row['ratio_to_process']:.2f}x (target {TARGET}x: "
            f"{'met' if row['target_met'] else 'NOT met'}), / prove() {row['ratio_to_in_process']:.2f}x",
            flush=True,
        )
        rows.append(row)
    save_result(
        "model_prove.json",
        {
            "benchmark": "model_prove",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "repeat": args.repeat,
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "bytecode": "cached (PYTHONPYCACHEPREFIX)",
            "target": TARGET,
            "rows": rows,
        },
    )
    return 0

"""Ceremony time and peak memory: ``zkmarket powersoftau|zkey contribute|verify`` against snarkjs.

Phase 1: a new powers of tau of ``--power`` (default 16, made by ``snarkjs powersoftau new``
and cached); each tool contributes to it, then each tool verifies both tools' outputs (so the
verify rows compare the same files, and each output must pass the other tool's verifier or
the run fails).

Phase 2: the synthetic circuit of the Groth16 benchmark with a domain of 2^``--phase2-k``
(default 12: 4094 constraints) and, unless ``--no-models``, the inference circuits of the
example models (private weights) whose domain is at most 2^``--max-model-k`` (default 16: all
but LeNet), each on a ptau one power above its domain. Each key starts
from our ``zkey new`` on an INSECURE known-secret ptau (timing only; cached); each tool
contributes to it, then each verifies both contributed keys against the .r1cs and the ptau.

Setup (``--phases setup``): ``zkey new`` (the initial key, delta = 1) of the same circuits as
phase 2, from the same ptau; the two keys must be byte for byte the same, or the run fails.

Prepare (``--phases prepare``): ``powersoftau prepare phase2`` (the Lagrange sections) of a
powers of tau of each ``--prepare-powers`` (default 12), made from an INSECURE known secret with
its Lagrange sections left out (cached); both tools prepare the same file and their outputs must
be byte for byte the same, or the run fails.

Every command runs as a child process (start-up and file loading count on both sides); peak
resident memory comes from ``wait4``. Results: a table, and ``benchmarks/results/ceremony.json``.

    python -m benchmarks ceremony [--power 16] [--phase2-k 12] [--no-models] [--max-model-k 16]
                                  [--phases 1 2 setup prepare] [--prepare-powers 12 13]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks import CACHE_DIR, RESULTS_DIR
from benchmarks.groth16_prove import SECRET, prepare, run_measured, zkmarket_cmd
from marketplace.npm import REPO_ROOT, npm_bin, run_npm_tool
from prover import kernels
from prover.ceremony.known_secret import known_secret_ptau
from prover.formats.binfile import atomic_output
from prover.formats.ptau import read_ptau, write_ptau
from prover.formats.r1cs import read_r1cs, write_r1cs
from prover.formats.zkey import write_zkey
from prover.groth16 import qap
from prover.groth16.setup import setup

ENTROPY = "benchmark entropy"


def _snarkjs(*args) -> list[str]:
    return [str(npm_bin("snarkjs")), *map(str, args)]


def _zkmarket(*args) -> list[str]:
    return zkmarket_cmd() + [str(a) for a in args]


def _contribute_and_verify(row: dict, contribute: dict, verify: dict, outputs: dict) -> dict:
    """Time each tool's contribution, then each tool's verification of both outputs."""
    for tool, cmd in contribute.items():
        seconds, rss = run_measured(cmd)
        row[f"{tool}_contribute_s"], row[f"{tool}_contribute_mib"] = seconds, rss / 2**20
    for tool, cmd_for in verify.items():
        for made_by, path in outputs.items():
            seconds, rss = run_measured(cmd_for(path))  # raises when the file is rejected
            row[f"{tool}_verifies_{made_by}_s"] = seconds
            row[f"{tool}_verify_mib"] = max(row.get(f"{tool}_verify_mib", 0), rss / 2**20)
    return row


def phase1(power: int, work: Path, log=print) -> dict:
    start = CACHE_DIR / f"ceremony_pot{power}_0.ptau"
    if not start.exists():
        log(f"  snarkjs powersoftau new bn128 {power} (cached in {CACHE_DIR})")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = start.with_suffix(".tmp")
        run_npm_tool("snarkjs", "powersoftau", "new", "bn128", power, tmp, timeout=3600)
        os.replace(tmp, start)
    outputs = {"zkmarket": work / "zkmarket_1.ptau", "snarkjs": work / "snarkjs_1.ptau"}
    log(f"  phase 1 at 2^{power}: contribute and verify")
    return _contribute_and_verify(
        {"phase": 1, "what": f"powers of tau 2^{power}", "size": 1 << power},
        {
            "zkmarket": _zkmarket(
                "powersoftau", "contribute", start, outputs["zkmarket"], "-n", "bench", "-e", ENTROPY
            ),
            "snarkjs": _snarkjs(
                "powersoftau", "contribute", start, outputs["snarkjs"], "--name=bench", f"-e={ENTROPY}"
            ),
        },
        {
            "zkmarket": lambda p: _zkmarket("powersoftau", "verify", p),
            "snarkjs": lambda p: _snarkjs("powersoftau", "verify", p),
        },
        outputs,
    )


def _model_keys(max_k: int, log=print) -> list[tuple[str, dict[str, Path], int]]:
    """(name, files, constraints) of the example models' inference circuits up to 2^max_k."""
    from marketplace.models import digits_split, example_models, model_inputs
    from prover.circuit.statements import inference_circuit
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import quantize

    x_train = digits_split()[0]
    out = []
    for model in example_models().values():
        base = CACHE_DIR / f"ceremony_model_{model.name}"
        files = {"r1cs": base.with_suffix(".r1cs"), "meta": base.with_suffix(".json")}
        meta = json.loads(files["meta"].read_text()) if files["meta"].exists() else None
        if meta is None or (meta["k"] <= max_k and not files["r1cs"].exists()):
            log(f"  compiling the {model.name} inference circuit (cached)")
            graph = import_model(model.path)
            q = quantize(graph, model_inputs(graph.input_tensor.shape, x_train), model.precision)
            r1cs = inference_circuit(q, "private").r1cs
            meta = {
                "k": qap.domain_size(r1cs.n_constraints, r1cs.n_public).bit_length() - 1,
                "constraints": r1cs.n_constraints,
            }
            if meta["k"] <= max_k:
                write_r1cs(r1cs, files["r1cs"])
            with atomic_output(files["meta"], "w") as f:
                json.dump(meta, f)
        if meta["k"] > max_k:
            log(f"  skipping {model.name}: its domain 2^{meta['k']} exceeds --max-model-k {max_k}")
            continue
        out.append((model.name, _key_on_ptau(files, meta["k"], f"model_{model.name}", log), meta["constraints"]))
    return out


def _key_on_ptau(files: dict[str, Path], k: int, name: str, log=print) -> dict[str, Path]:
    """``files`` with the initial key of its circuit set up from a known-secret ptau one power
    above the 2^k domain (and that ptau), the files `zkey verify` checks against: with power
    exactly k snarkjs's circuit hash reads a point past the G1 powers, which ours leaves out
    (prover.groth16.setup)."""
    files = {**files, "ptau": _known_secret_ptau(k + 1, log), "zkey": CACHE_DIR / f"ceremony_{name}_p{k + 1}.zkey"}
    if not files["zkey"].exists():
        write_zkey(setup(read_r1cs(files["r1cs"]), read_ptau(files["ptau"])), files["zkey"])
    return files


def _known_secret_ptau(power: int, log=print) -> Path:
    path = CACHE_DIR / f"known_secret_{power}.ptau"
    if not path.exists():
        log(f"  building the known-secret ptau of power {power} (cached)")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        write_ptau(known_secret_ptau(power, **SECRET, progress=True), path)
    return path


def phase2(name: str, files: dict[str, Path], constraints: int, work: Path, log=print) -> dict:
    slug = "".join(ch if ch.isalnum() else "_" for ch in name)
    outputs = {"zkmarket": work / f"zkmarket_{slug}.zkey", "snarkjs": work / f"snarkjs_{slug}.zkey"}
    log(f"  phase 2 for {name} ({constraints} constraints): contribute and verify")
    return _contribute_and_verify(
        {"phase": 2, "what": name, "size": constraints},
        {
            "zkmarket": _zkmarket(
                "zkey", "contribute", files["zkey"], outputs["zkmarket"], "-n", "bench", "-e", ENTROPY
            ),
            "snarkjs": _snarkjs(
                "zkey", "contribute", files["zkey"], outputs["snarkjs"], "--name=bench", f"-e={ENTROPY}"
            ),
        },
        {
            "zkmarket": lambda p: _zkmarket("zkey", "verify", files["r1cs"], files["ptau"], p),
            "snarkjs": lambda p: _snarkjs("zkey", "verify", files["r1cs"], files["ptau"], p),
        },
        outputs,
    )


def setup_row(name: str, files: dict[str, Path], constraints: int, work: Path, log=print) -> dict:
    """Both tools' ``zkey new`` of one circuit from the same ptau."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in name)
    outputs = {tool: work / f"{tool}_{slug}_new.zkey" for tool in ("zkmarket", "snarkjs")}
    log(f"  zkey new for {name} ({constraints} constraints)")
    return _same_output_row(
        {"phase": "setup", "what": name, "size": constraints},
        "setup",
        {
            "zkmarket": _zkmarket("zkey", "new", files["r1cs"], files["ptau"], outputs["zkmarket"]),
            "snarkjs": _snarkjs("zkey", "new", files["r1cs"], files["ptau"], outputs["snarkjs"]),
        },
        outputs,
    )


def _same_output_row(row: dict, step: str, commands: dict, outputs: dict) -> dict:
    """Time each tool's command of ``step`` into ``row``; the tools' outputs must be the same
    bytes, or the run fails."""
    for tool, cmd in commands.items():
        seconds, rss = run_measured(cmd)
        row[f"{tool}_{step}_s"], row[f"{tool}_{step}_mib"] = seconds, rss / 2**20
    if outputs["zkmarket"].read_bytes() != outputs["snarkjs"].read_bytes():
        raise RuntimeError(f"{row['what']}: our {step} output differs from snarkjs's")
    return row


def setup_table(rows: list[dict]) -> str:
    lines = [
        f"{'what':<24} {'size':>7} | {'zkey new s':>10} {'(snarkjs)':>9} {'ratio':>6} | {'MiB':>6} {'(snarkjs)':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r['what']:<24} {r['size']:>7} | {r['zkmarket_setup_s']:>10.1f} {r['snarkjs_setup_s']:>9.1f} "
            f"{r['zkmarket_setup_s'] / r['snarkjs_setup_s']:>6.2f} | "
            f"{r['zkmarket_setup_mib']:>6.0f} {r['snarkjs_setup_mib']:>9.0f}"
        )
    lines.append("both tools set up the same circuit from the same ptau; the keys are byte for byte the same")
    return "\n".join(lines)


def prepare_phase2_row(power: int, work: Path, log=print) -> dict:
    """Both tools' ``powersoftau prepare phase2`` of the same unprepared 2^power file."""
    start = CACHE_DIR / f"known_secret_{power}_unprepared.ptau"
    if not start.exists():
        log(f"  building the unprepared known-secret ptau of power {power} (cached)")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        write_ptau(replace(known_secret_ptau(power, **SECRET, progress=True), lagrange={}), start)
    outputs = {tool: work / f"{tool}_prepared_{power}.ptau" for tool in ("zkmarket", "snarkjs")}
    log(f"  prepare phase2 at 2^{power}")
    return _same_output_row(
        {"phase": "prepare", "what": f"prepare phase2 2^{power}", "size": 1 << power},
        "prepare",
        {
            "zkmarket": _zkmarket("powersoftau", "prepare", "phase2", start, outputs["zkmarket"]),
            "snarkjs": _snarkjs("powersoftau", "prepare", "phase2", start, outputs["snarkjs"]),
        },
        outputs,
    )


def prepare_table(rows: list[dict]) -> str:
    lines = [f"{'what':<24} {'size':>7} | {'prepare s':>10} {'(snarkjs)':>9} | {'MiB':>6} {'(snarkjs)':>9}"]
    for r in rows:
        lines.append(
            f"{r['what']:<24} {r['size']:>7} | {r['zkmarket_prepare_s']:>10.1f} {r['snarkjs_prepare_s']:>9.1f} | "
            f"{r['zkmarket_prepare_mib']:>6.0f} {r['snarkjs_prepare_mib']:>9.0f}"
        )
    lines.append("both tools prepared the same file; the outputs are byte for byte the same")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        f"{'phase':>5} {'what':<22} {'size':>7} | {'contribute s':>13} {'(snarkjs)':>9} | "
        f"{'verify s':>9} {'(snarkjs)':>9} | {'MiB contrib':>11} {'(snarkjs)':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r['phase']:>5} {r['what']:<22} {r['size']:>7} | {r['zkmarket_contribute_s']:>13.1f} "
            f"{r['snarkjs_contribute_s']:>9.1f} | {r['zkmarket_verifies_snarkjs_s']:>9.1f} "
            f"{r['snarkjs_verifies_snarkjs_s']:>9.1f} | {r['zkmarket_contribute_mib']:>11.0f} "
            f"{r['snarkjs_contribute_mib']:>9.0f}"
        )
    lines.append(
        "verify columns: both tools verifying the same (snarkjs-made) file; each tool also "
        "verified the other's output (JSON has all four times)"
    )
    return "\n".join(lines)


def _tables(rows: list[dict]) -> str:
    ceremony = [r for r in rows if r["phase"] in (1, 2)]
    setups = [r for r in rows if r["phase"] == "setup"]
    prepared = [r for r in rows if r["phase"] == "prepare"]
    return "\n\n".join(
        render(part) for render, part in ((table, ceremony), (setup_table, setups), (prepare_table, prepared)) if part
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ceremony", description=__doc__.splitlines()[0])
    parser.add_argument("--power", type=int, default=16, help="phase-1 power (2^power powers of tau)")
    parser.add_argument("--phase2-k", type=int, default=12, help="log2 domain of the synthetic phase-2 circuit")
    parser.add_argument("--no-models", action="store_true", help="skip the example models' circuits")
    parser.add_argument("--max-model-k", type=int, default=16, help="skip models whose domain exceeds 2^K")
    parser.add_argument(
        "--phases",
        nargs="+",
        default=["1", "2"],
        choices=["1", "2", "setup", "prepare"],
        help="which phases to run (rows of earlier runs are kept in the JSON)",
    )
    parser.add_argument(
        "--prepare-powers", type=int, nargs="+", default=[12], help="powers of the `prepare phase2` rows"
    )
    args = parser.parse_args(argv)

    rows = []
    load_before = os.getloadavg()[1]  # the machine is shared: record how busy it was
    with tempfile.TemporaryDirectory(prefix="ceremony-bench-") as tmp:
        work = Path(tmp)
        if "1" in args.phases:
            rows.append(phase1(args.power, work))
        if "prepare" in args.phases:
            rows.extend(prepare_phase2_row(power, work) for power in args.prepare_powers)
        if "2" in args.phases or "setup" in args.phases:
            synthetic = _key_on_ptau(prepare(args.phase2_k), args.phase2_k, f"synthetic_k{args.phase2_k}")
            circuits = [(f"synthetic 2^{args.phase2_k}", synthetic, (1 << args.phase2_k) - 2)]
            if not args.no_models:
                circuits += [(f"model {name}", files, n) for name, files, n in _model_keys(args.max_model_k)]
            for name, files, constraints in circuits:
                if "setup" in args.phases:
                    rows.append(setup_row(name, files, constraints, work))
                if "2" in args.phases:
                    rows.append(phase2(name, files, constraints, work))
    for row in rows:
        row["load_average_5min"] = [load_before, os.getloadavg()[1]]
    print(_tables(rows))
    results = RESULTS_DIR / "ceremony.json"
    if results.exists():  # keep the rows this run did not measure
        measured = {(r["phase"], r["what"]) for r in rows}
        kept = json.loads(results.read_text())["rows"]
        rows = [r for r in kept if (r["phase"], r["what"]) not in measured] + rows
        rows.sort(key=lambda r: (str(r["phase"]), r["size"]))
    snarkjs_version = json.loads((REPO_ROOT / "node_modules/snarkjs/package.json").read_text())["version"]
    result = {
        "benchmark": "ceremony",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "snarkjs": snarkjs_version,
        "kernels": sorted(set(kernels.BACKEND.values())),
        "rows": rows,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_output(results, "w") as f:
        json.dump(result, f, indent=2)
    with atomic_output(results.with_suffix(".txt"), "w") as f:
        f.write(_tables(rows) + "\n")
    return 0

"""Example-model inference proofs: ``zkmarket model`` against EZKL on the same ONNX files.

For each example model (mlp, cnn, quadratic, lenet) and the first sample of the digits test
split, every step runs as a child process (start-up and file loading count), with its wall
time, CPU time (user + system: less sensitive to other load on a shared machine) and peak
resident memory from ``wait4``:

ours    ``zkmarket model compile`` (the digits training split as calibration, the catalog precision),
        ``model setup`` on an INSECURE known-secret ptau (cached; fine for timing),
        ``model witness``, ``groth16 prove`` on that .zkey and .wtns (the Groth16 prover alone),
        ``model prove`` (circuit rebuilt, witness and proof: what a provider runs per request)
        and ``model verify``.
EZKL    ``benchmarks.ezkl_peer`` steps: settings (hashed parameters, public input and output,
        calibrated for "resources", local SRS), witness, setup, prove, verify. Each step is
        capped (timeout and resident-memory limit: EZKL may exhaust memory on LeNet) and a step
        that hits a cap is recorded as such. Skipped with a note when ezkl is not importable.

The ratio is EZKL's prove time over ours (the Groth16 prover alone, and end to end); the
target is at least 10x on every model. The scale target (LeNet size: compile, prove and verify
within 60 s and 4 GiB) is checked on ``lenet`` from the same runs. Results are printed as a
table and saved to ``benchmarks/results/models.json``.

    python -m benchmarks models [--models mlp lenet] [--no-peer] [--peer-timeout S] [--peer-memory-gib G]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import CACHE_DIR, RESULTS_DIR
from benchmarks.ezkl_peer import STEPS as PEER_STEPS
from benchmarks.groth16_prove import SECRET, zkmarket_cmd
from marketplace.models import digits_split, example_models, model_inputs
from prover import kernels
from prover.formats.binfile import atomic_output
from prover.onnx.quantize import Precision

MODELS = ("mlp", "cnn", "quadratic", "lenet")
SCALE_MODEL = "lenet"
SCALE_SECONDS = 60.0
SCALE_MIB = 4096.0
SALT = "0x5a17"
MIB = 2**20


# --- measured child processes ----------------------------------------------------------------


def _memory_bytes(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a running process, from /proc."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line[:6] in found:
                    found[line[:6]] = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found["VmRSS:"], found["VmHWM:"]


def run_capped(
    cmd: list[str], log: Path, timeout: float | None = None, max_rss: int | None = None, env: dict | None = None
) -> dict:
    """Run ``cmd`` (output to ``log``, in ``env`` or this process's environment); its wall and
    CPU seconds, peak RSS (MiB) and status ("ok", "failed", "timeout" or "memory cap"). A child
    over ``timeout`` seconds or ``max_rss`` bytes of resident memory is killed.

    The peak is the child's own high-water mark (VmHWM, read while it runs): ``wait4``'s
    ru_maxrss would not do, since Linux keeps it across fork and exec, so that every child
    would report at least this (large) Python process's size."""
    start = time.perf_counter()
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    status, peak = None, 0
    try:
        while True:
            pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            rss, high_water = _memory_bytes(child.pid)
            peak = max(peak, high_water)
            if timeout is not None and time.perf_counter() - start > timeout:
                status = "timeout"
            elif max_rss is not None and rss > max_rss:
                status = "memory cap"
            if status:
                child.send_signal(signal.SIGKILL)
            time.sleep(0.02)
    except BaseException:
        child.kill()
        child.wait()
        raise
    child.returncode = os.waitstatus_to_exitcode(wait_status)
    if status is None:
        status = "ok" if child.returncode == 0 else "failed"
    return {
        "status": status,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        # a child too quick to be sampled falls back to the (inflated) ru_maxrss
        "peak_rss_mib": (peak or usage.ru_maxrss * 1024) / MIB,
    }


def zkmarket_steps(name: str, log: Path, row: dict, echo: bool = False):
    """``step(label, *args)``: runs ``zkmarket *args`` as a measured child process (output to
    ``log``), records the measurement in ``row[label]`` and raises, with the log's tail, unless
    it succeeded."""
    zk = zkmarket_cmd()

    def step(label: str, *args) -> dict:
        result = run_capped(zk + [str(a) for a in args], log)
        row[label] = result
        if echo:
            print(f"  {label}: {result['seconds']:.1f} s, {result['peak_rss_mib']:.0f} MiB", flush=True)
        if result["status"] != "ok":
            raise RuntimeError(
                f"{name}: zkmarket {' '.join(map(str, args[:2]))} {result['status']}:\n{log.read_text()[-3000:]}"
            )
        return result

    return step


def cached_ptau(power: int) -> Path:
    """The INSECURE known-secret ptau of ``power`` (the groth16 benchmark's secret and cache)."""
    path = CACHE_DIR / f"known_secret_{power}.ptau"
    if not path.exists():
        from prover.ceremony.known_secret import known_secret_ptau
        from prover.formats.ptau import write_ptau

        print(f"  building the known-secret ptau of power {power} (cached in {CACHE_DIR})", flush=True)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        write_ptau(known_secret_ptau(power, **SECRET, progress=True), path)  # atomic
    return path


# --- the two sides ---------------------------------------------------------------------------


def measure_ours(name: str, model, calibration: np.ndarray, x: np.ndarray, workdir: Path) -> dict:
    """Compile, set up, witness, prove and verify one example model with the zkmarket CLI.
    The calibration inputs and the catalog precision are given as files and options, so that
    the compile step measures compiling (not loading scikit-learn's digits)."""
    from prover.groth16.qap import domain_size

    work = workdir / "ours"
    work.mkdir()
    np.save(work / "input.npy", x)
    np.save(work / "calibration.npy", calibration)
    outdir, log = work / "model", work / "log.txt"
    row: dict = {}
    step = zkmarket_steps(name, log, row)

    step(
        "compile",
        "model",
        "compile",
        model.path,
        outdir,
        "--calibration",
        work / "calibration.npy",
        "--bits",
        model.precision.act_bits,
        model.precision.weight_bits,
    )
    info = json.loads((outdir / "model.json").read_text())
    row["constraints"], row["wires"], row["parameters"] = info["constraints"], info["wires"], info["parameters"]
    power = domain_size(info["constraints"], len(info["public_inputs"])).bit_length() - 1
    row["domain_log2"] = power
    step("setup", "model", "setup", outdir, "--ptau", cached_ptau(power))
    step("witness", "model", "witness", outdir, work / "input.npy", work / "w.wtns", "--salt", SALT)
    step(
        "groth16_prove",
        "groth16",
        "prove",
        outdir / "circuit.zkey",
        work / "w.wtns",
        work / "proof_g.json",
        work / "public_g.json",
    )
    step(
        "model_prove",
        "model",
        "prove",
        outdir,
        work / "input.npy",
        work / "proof.json",
        work / "public.json",
        "--salt",
        SALT,
    )
    step("verify", "model", "verify", outdir, work / "proof.json", work / "public.json")
    # the Groth16-only proof is of the same statement: same public signals, and it verifies too
    if json.loads((work / "public_g.json").read_text()) != json.loads((work / "public.json").read_text()):
        raise RuntimeError(f"{name}: the two proofs have different public signals: the benchmark is void")
    step("verify_groth16", "model", "verify", outdir, work / "proof_g.json", work / "public_g.json")
    return row


def ezkl_available() -> str | None:
    """EZKL's version, or None when it is not importable."""
    if importlib.util.find_spec("ezkl") is None:
        return None
    try:
        return importlib.metadata.version("ezkl")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def measure_ezkl(onnx_path: Path, x: np.ndarray, workdir: Path, timeout: float, max_rss: int) -> dict:
    """EZKL's steps on the same ONNX file and input, each capped; stops at the first step that
    does not finish."""
    work = workdir / "ezkl"
    work.mkdir()
    shutil.copyfile(onnx_path, work / "model.onnx")
    (work / "input.json").write_text(json.dumps({"input_data": [np.asarray(x, dtype=float).ravel().tolist()]}))
    row: dict = {}
    for peer_step in PEER_STEPS:
        result = run_capped(
            [sys.executable, "-m", "benchmarks.ezkl_peer", peer_step, str(work)], work / "log.txt", timeout, max_rss
        )
        row[peer_step] = result
        if peer_step == "settings" and (work / "settings.json").exists():
            settings = json.loads((work / "settings.json").read_text())
            row["logrows"], row["rows"] = settings["run_args"]["logrows"], settings.get("num_rows")
        if peer_step == "prove" and result["status"] == "ok":
            row["proof_bytes"] = ezkl_proof_bytes(work)
        if result["status"] != "ok":
            row["stopped_at"] = peer_step
            row["log_tail"] = (work / "log.txt").read_text(errors="replace")[-1500:]
            break
    return row


def ezkl_proof_bytes(work: Path) -> int | None:
    """The bytes of EZKL's proof itself (its proof file is JSON: the proof as hex or a byte list,
    beside the instances and metadata); None when the file has neither, so that a layout of
    another EZKL version loses the figure, not the run."""
    from benchmarks.ezkl_peer import files

    proof = json.loads(Path(files(work)["proof"]).read_text()).get("proof")
    if isinstance(proof, str):
        return len(bytes.fromhex(proof.removeprefix("0x")))
    return len(proof) if isinstance(proof, list) else None


# --- report ----------------------------------------------------------------------------------


def summarize(row: dict) -> None:
    """Ratios and the targets, from a model's measured steps."""
    ours, peer = row.get("ours"), row.get("ezkl")
    if ours is None:  # EZKL measured alone so far
        return
    if peer and peer.get("prove", {}).get("status") == "ok":
        for which in ("groth16_prove", "model_prove"):
            row[f"ratio_{which}"] = peer["prove"]["seconds"] / ours[which]["seconds"]
            row[f"cpu_ratio_{which}"] = peer["prove"]["cpu_seconds"] / ours[which]["cpu_seconds"]
        row["target_10x"] = row["ratio_groth16_prove"] >= 10
    elif peer and "stopped_at" in peer:
        row["target_10x"] = None  # undetermined: EZKL never proved (see its stopped step's status)
    if row["model"] == SCALE_MODEL:
        steps = [ours["compile"], ours["model_prove"], ours["verify"]]
        scale = {
            "seconds": sum(s["seconds"] for s in steps),
            "cpu_seconds": sum(s["cpu_seconds"] for s in steps),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in steps),
            "setup_seconds": ours["setup"]["seconds"],
            "setup_peak_rss_mib": ours["setup"]["peak_rss_mib"],
        }
        scale["met"] = scale["seconds"] <= SCALE_SECONDS and scale["peak_rss_mib"] <= SCALE_MIB
        row["scale"] = scale


def _cell(step: dict | None, key: str = "seconds", fmt: str = "{:.1f}") -> str:
    if not step:
        return "-"
    if step["status"] != "ok":
        return step["status"].replace("memory cap", "mem cap")
    return fmt.format(step[key])


def table(rows: list[dict]) -> str:
    head = (
        f"{'model':<10}{'constr':>9}{'wires':>9}{'compile':>8}{'setup':>8}{'witness':>8}{'prove':>8}"
        f"{'prove e2e':>10}{'verify':>7}{'MiB':>7} | {'ezkl rows':>10}{'setup':>8}{'MiB':>7}{'prove':>8}"
        f"{'MiB':>7} | {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        o, e = r.get("ours"), r.get("ezkl") or {}
        if o is None:
            lines.append(
                f"{r['model']:<10}{'(ours not measured)':>67} | {str(e.get('rows', '-')):>10}"
                f"{_cell(e.get('setup')):>8}{_cell(e.get('setup'), 'peak_rss_mib', '{:.0f}'):>7}"
                f"{_cell(e.get('prove')):>8}{_cell(e.get('prove'), 'peak_rss_mib', '{:.0f}'):>7} |"
            )
            continue
        peak = max(
            o[s]["peak_rss_mib"] for s in ("compile", "setup", "witness", "groth16_prove", "model_prove", "verify")
        )
        ratio = f"{r['ratio_groth16_prove']:.1f}x" if "ratio_groth16_prove" in r else "-"
        if "stopped_at" in e:
            ratio = f"EZKL {e['stopped_at']}: {e[e['stopped_at']]['status']}"
        lines.append(
            f"{r['model']:<10}{o['constraints']:>9}{o['wires']:>9}{_cell(o['compile']):>8}{_cell(o['setup']):>8}"
            f"{_cell(o['witness']):>8}{_cell(o['groth16_prove']):>8}{_cell(o['model_prove']):>10}"
            f"{_cell(o['verify']):>7}{peak:>7.0f} | {str(e.get('rows', '-')):>10}{_cell(e.get('setup')):>8}"
            f"{_cell(e.get('setup'), 'peak_rss_mib', '{:.0f}'):>7}{_cell(e.get('prove')):>8}"
            f"{_cell(e.get('prove'), 'peak_rss_mib', '{:.0f}'):>7} | {ratio:>6}"
        )
    lines.append(
        "seconds are wall time; 'prove' is the Groth16 prover on the .wtns, 'prove e2e' is zkmarket "
        "model prove (circuit, witness, proof); MiB is peak RSS"
    )
    for r in rows:
        if "scale" in r:
            s = r["scale"]
            lines.append(
                f"scale ({r['model']}): compile + prove + verify {s['seconds']:.1f} s wall "
                f"({s['cpu_seconds']:.1f} s CPU), peak {s['peak_rss_mib']:.0f} MiB: target "
                f"{SCALE_SECONDS:.0f} s / {SCALE_MIB:.0f} MiB {'met' if s['met'] else 'NOT met'} "
                f"(one-time setup {s['setup_seconds']:.1f} s, {s['setup_peak_rss_mib']:.0f} MiB)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks models", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--no-peer", action="store_true", help="measure ours only")
    parser.add_argument(
        "--no-ours", action="store_true", help="measure EZKL only (the saved results keep our side of each model)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep each model's files (compiled model, keys, proofs) in DIR/NAME for a closer look",
    )
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds per EZKL step")
    parser.add_argument("--peer-memory-gib", type=float, default=12.0, help="resident memory cap per EZKL step")
    args = parser.parse_args(argv)

    peer_version = None if args.no_peer else ezkl_available()
    note = None
    if args.no_peer:
        note = "EZKL skipped (--no-peer)"
    elif peer_version is None:
        note = "EZKL skipped: ezkl is not importable here (pip install ezkl into this environment to compare)"
    print(
        f"example models: zkmarket vs {'EZKL ' + peer_version if peer_version else 'nobody'}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if note:
        print(f"  note: {note}")
    catalog = example_models()
    x_train, _, x_test, _ = digits_split()
    rows = []
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_models_", dir=args.keep) as tmp:
        for name in args.models:
            model = catalog[name]
            x = model_inputs(model.input_shape, x_test[:1])[0]
            workdir = (args.keep or Path(tmp)) / name
            workdir.mkdir(exist_ok=True)
            if model.precision.headroom_bits != Precision().headroom_bits:
                raise RuntimeError(f"{name}: --bits cannot express headroom {model.precision.headroom_bits}")
            row = {"model": name}
            if not args.no_ours:
                print(f"{name}: ours", flush=True)
                row["ours"] = measure_ours(name, model, model_inputs(model.input_shape, x_train), x, workdir)
            if peer_version:
                print(f"{name}: EZKL", flush=True)
                row["ezkl"] = measure_ezkl(model.path, x, workdir, args.peer_timeout, int(args.peer_memory_gib * 2**30))
            row["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            row["load_average"] = os.getloadavg()[0]
            rows.append(row)
            save(rows, peer_version, note, args)  # after each model: a long run keeps what it measured
    print(table(json.loads((RESULTS_DIR / "models.json").read_text())["rows"]))
    return 0


def save(rows: list[dict], peer_version: str | None, note: str | None, args) -> None:
    """Write the rows into ``results/models.json``, keeping the rows of models not run this time
    (so that one model can be measured again on its own)."""
    path = RESULTS_DIR / "models.json"
    earlier: dict = {}
    if path.exists():
        try:
            earlier = json.loads(path.read_text())
        except ValueError:
            earlier = {}
    merged = {r["model"]: r for r in earlier.get("rows", [])}
    for row in rows:  # a side measured now replaces that side only
        merged[row["model"]] = {**merged.get(row["model"], {}), **row}
        summarize(merged[row["model"]])
    rows = sorted(merged.values(), key=lambda r: MODELS.index(r["model"]))
    report = {
        "benchmark": "models",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "kernels": kernels.BACKEND,
        "native_build": kernels.NATIVE_BUILD,
        "ezkl": peer_version or earlier.get("ezkl"),
        "note": note if not earlier.get("ezkl") or peer_version else None,
        "peer_caps": {"timeout_s": args.peer_timeout, "memory_gib": args.peer_memory_gib},
        "rows": rows,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "w") as out:
        json.dump(report, out, indent=1)
    print(f"saved {path}")

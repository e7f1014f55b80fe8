"""The sumcheck backend (``prover.sumcheck.inference``) beside the Groth16 backend, same run.

Workloads (quantized the way ``zkmarket model compile`` does, digits training split as
calibration where the model is a digits model):

- ``mlp``, ``quadratic``: the example digits models, at batch 1 and 64;
- ``timit``: the SafetyNets TIMIT shape (1845-2000-2000-2000-183, quadratic activations) with
  random weights, its widths scaled by ``--timit-scale`` (1.0 is the full 12M parameters; the
  default keeps the key and the run small), at batch 64;
- ``resnet18``: the zoo's torchvision export (random weights, 10 classes) at ``--side``;
- ``mobilenet_v2``: torchvision's MobileNet v2 (``benchmarks.mobilenet_v2``: width ``--width``,
  1000 classes, 3 x ``--side`` x ``--side``, random weights), at batch 1.

``--scaling`` runs MobileNet v2 alone at widths 0.35, 0.5, 1.0 and inputs 96, 160, 224 and
writes the table and the plot of how prove time and memory grow
(``sumcheck_scaling.json``, ``.md``, ``.png``; the plot needs the ``bench`` extra's matplotlib).

Each sumcheck run is a child process (``--child``), so that its wall time and peak resident
memory are its own (``benchmarks.models.run_capped``); inside it the one-time weight
commitment, the proof and the verification are timed apart, and the proof's size counts 32
bytes per field element and 64 per G1 point. The key is an INSECURE known-secret powers of tau
(cached; fine for timing). The Groth16 side is ``benchmarks.models.measure_ours`` on the same
ONNX files (compile, setup, then ``groth16 prove`` and ``model prove`` of one sample), and
EZKL's ``benchmarks.models.measure_ezkl`` on the same files and sample (each step capped by
``--peer-timeout`` and ``--peer-memory-gib``; a step that hits a cap is recorded as such).

    python -m benchmarks sumcheck [--workloads mlp quadratic timit] [--timit-scale 0.25] [--side 224]
                                  [--width 1.0] [--no-groth16] [--scaling]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import earlier_rows, save_result
from benchmarks.models import cached_ptau, run_capped

TIMIT = (1845, 2000, 2000, 2000, 183)
BATCHES = {
    "mlp": (1, 64),
    "quadratic": (1, 64),
    "cnn": (1, 64),
    "lenet": (1, 64),
    "timit": (64,),
    "resnet18": (1,),
    "mobilenet_v2": (1,),
}
# the torchvision nets: ResNet-18 as the zoo's export (``benchmarks.torch_zoo``), MobileNet v2
# written by ``benchmarks.mobilenet_v2`` at any width (both random weights)
ZOO_NETS = ("resnet18", "mobilenet_v2")
RESNET_EXPORT = "resnet18_ts17"
ZOO_PRECISION = (8, 8)
MOBILENET_CLASSES = 1000
SCALING_WIDTHS = (0.35, 0.5, 1.0)
SCALING_SIDES = (96, 160, 224)


def proof_bytes(item) -> int:
    """Bytes of a proof object: 32 per field element, 64 per G1 point (uncompressed), nothing
    for an absent part (a lookup's multiplicity opening left to the batch opening)."""
    if item is None:
        return 0
    if isinstance(item, np.ndarray):
        return 64 * (item.size // 8)
    if isinstance(item, int):
        return 32
    if isinstance(item, (tuple, list)):
        return sum(proof_bytes(x) for x in item)
    if dataclasses.is_dataclass(item):
        return sum(proof_bytes(getattr(item, f.name)) for f in dataclasses.fields(item))
    raise TypeError(f"no size for {type(item).__name__}")


def dense_network(rng: np.random.Generator, widths, activations, bias_scale: float = 0.0):
    """A float ONNX network of Gemm layers of the given widths (random normal weights, biases
    of ``bias_scale``), with ``activations[k]`` ("relu" or "square") after layer k."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, current = [], [], "x"
    for k, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        w = rng.normal(0, 1 / np.sqrt(a), (a, b)).astype(np.float32)
        bias = rng.normal(0, bias_scale, b).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(bias, f"b{k}")]
        nodes.append(helper.make_node("Gemm", [current, f"w{k}", f"b{k}"], [f"g{k}"], name=f"fc{k}"))
        current = f"g{k}"
        if k < len(activations):
            if activations[k] == "relu":
                nodes.append(helper.make_node("Relu", [current], [f"h{k}"], name=f"relu{k}"))
            else:
                nodes.append(helper.make_node("Mul", [current, current], [f"h{k}"], name=f"square{k}"))
            current = f"h{k}"
    graph = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", widths[0]])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["N", widths[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def timit_graph(scale: float, seed: int = 2017):
    """The TIMIT shape with random weights and quadratic activations, quantized on random inputs."""
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import quantize

    rng = np.random.default_rng(seed)
    widths = [max(2, round(w * scale)) for w in TIMIT]
    model = dense_network(rng, widths, ["square"] * (len(widths) - 2))
    calibration = rng.normal(0, 1, (64, widths[0]))
    return quantize(import_model(model), calibration), np.clip(rng.normal(0, 1, (64, widths[0])), -3, 3)


def zoo_graph(name: str, side: int, width: float = 1.0, seed: int = 2024):
    """A torchvision net at a ``side`` x ``side`` input (ResNet-18: the zoo export's input shape
    changed, every other shape inferred again), quantized on random inputs."""
    from benchmarks.mobilenet_v2 import mobilenet_v2
    from benchmarks.torch_zoo import load_zoo_model
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import Precision, quantize

    if name == "mobilenet_v2":
        model = mobilenet_v2(width, side, MOBILENET_CLASSES)
    else:
        model = load_zoo_model(RESNET_EXPORT)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value = dims[3].dim_value = side
        del model.graph.value_info[:]
    graph = import_model(model)
    rng = np.random.default_rng(seed)
    calibration = rng.uniform(0, 1, (4, *graph.input_tensor.shape))
    return quantize(graph, calibration, Precision(*ZOO_PRECISION)), rng.uniform(0, 1, (4, *graph.input_tensor.shape))


def workload(name: str, scale: float, side: int = 32, width: float = 1.0):
    """(quantized graph, real inputs) of a workload."""
    if name == "timit":
        return timit_graph(scale)
    if name in ZOO_NETS:
        return zoo_graph(name, side, width)
    from marketplace.models import digits_split, example_models, model_inputs
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import quantize

    model = example_models()[name]
    x_tr, _, x_te, _ = digits_split()
    graph = import_model(model.path)
    shape = graph.input_tensor.shape
    return quantize(graph, model_inputs(shape, x_tr), model.precision), model_inputs(shape, x_te[:64])


def child(name: str, batch: int, scale: float, side: int, width: float, out: Path) -> int:
    """One measured run: commit, prove, verify; the figures as JSON in ``out``."""
    from prover.circuit.statements import architecture_graph, architecture_spec
    from prover.formats.ptau import read_ptau
    from prover.onnx.executor import execute, quantize_input
    from prover.sumcheck import commitment as pcs
    from prover.sumcheck import inference
    from prover.sumcheck.inference import key_power

    graph, x = workload(name, scale, side, width)
    xs = quantize_input(graph, x[:batch])
    power = key_power(graph, batch)
    key = pcs.commitment_key(read_ptau(cached_ptau(power)), power)
    seed = os.urandom(inference.SEED_BYTES)  # hiding weight commitments, as a registration makes
    t0 = time.perf_counter()
    weights = inference.commit_weights(key, graph, seed)
    t1 = time.perf_counter()
    outputs, proof = inference.prove_inference(key, graph, xs, weights, seed)
    t2 = time.perf_counter()
    inference.verify_inference(key.verifier, architecture_graph(architecture_spec(graph)), weights, xs, outputs, proof)
    t3 = time.perf_counter()
    if not np.array_equal(outputs, execute(graph, xs)[graph.output]):
        raise SystemExit("the proved outputs differ from the executor's: the benchmark is void")
    row = {
        "parameters": graph.n_parameters(),  # after BatchNorm folding
        "input": list(graph.input_tensor.shape),
        "key_log2": power,
        "commit_seconds": t1 - t0,
        "prove_seconds": t2 - t1,
        "verify_seconds": t3 - t2,
        "proof_bytes": proof_bytes(proof),
    }
    if name == "mobilenet_v2":
        from benchmarks.mobilenet_v2 import mobilenet_v2, parameter_count

        row["torch_parameters"] = parameter_count(mobilenet_v2(width, side, MOBILENET_CLASSES))
    out.write_text(json.dumps(row))
    return 0


def measure(name: str, batch: int, scale: float, side: int, width: float, workdir: Path) -> dict:
    out = workdir / f"{name}_{batch}_{side}_{width}.json"
    args = [name, str(batch), str(scale), str(side), str(width), str(out)]
    cmd = [sys.executable, "-m", "benchmarks.sumcheck", "--child", *args]
    run = run_capped(cmd, workdir / "log.txt")
    if run["status"] != "ok":
        raise RuntimeError(f"{name} batch {batch}: {run['status']}:\n{(workdir / 'log.txt').read_text()[-3000:]}")
    return {"workload": name, "batch": batch, **json.loads(out.read_text()), "process": run}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        name, batch, scale, side, width, out = argv[1:7]
        return child(name, int(batch), float(scale), int(side), float(width), Path(out))
    parser = argparse.ArgumentParser(prog="python -m benchmarks sumcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", default=list(BATCHES), choices=list(BATCHES))
    parser.add_argument("--timit-scale", type=float, default=0.25)
    parser.add_argument("--side", type=int, default=32, help="input side of the torchvision nets (224: ImageNet)")
    parser.add_argument("--width", type=float, default=1.0, help="MobileNet v2's width multiplier")
    parser.add_argument("--no-groth16", action="store_true", help="skip the Groth16 side")
    parser.add_argument("--no-peer", action="store_true", help="skip EZKL beside the Groth16 side")
    parser.add_argument("--peer-timeout", type=float, default=600.0, help="seconds per EZKL step")
    parser.add_argument("--peer-memory-gib", type=float, default=16.0, help="resident memory cap per EZKL step")
    parser.add_argument("--scaling", action="store_true", help="MobileNet v2 at three widths and three inputs")
    args = parser.parse_args(argv)
    if args.scaling:
        return scaling()
    from benchmarks.models import ezkl_available

    peer_version = None if args.no_peer or args.no_groth16 else ezkl_available()
    if not (args.no_peer or args.no_groth16) and peer_version is None:
        print("note: EZKL skipped, ezkl is not importable here (make bench installs it)", flush=True)
    rows, groth16, ezkl = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.workloads:
            for batch in BATCHES[name]:
                row = measure(name, batch, args.timit_scale, args.side, args.width, Path(tmp))
                rows.append(row)
                _report(row)
            if name not in ("timit", *ZOO_NETS) and not args.no_groth16:
                from benchmarks.models import measure_ezkl, measure_ours
                from marketplace.models import digits_split, example_models, model_inputs

                model = example_models()[name]
                x_tr, _, x_te, _ = digits_split()
                shape = model.input_shape
                work = Path(tmp) / f"groth16_{name}"
                work.mkdir()
                ours = measure_ours(name, model, model_inputs(shape, x_tr), model_inputs(shape, x_te[:1]), work)
                groth16[name] = {k: ours[k] for k in ("constraints", "groth16_prove", "model_prove", "verify")}
                print(
                    f"groth16  {name:10s} batch   1: groth16 prove {ours['groth16_prove']['seconds']:.2f} s, "
                    f"model prove {ours['model_prove']['seconds']:.2f} s "
                    f"{ours['model_prove']['peak_rss_mib']:.0f} MiB, proof 0.25 KiB",
                    flush=True,
                )
                if peer_version:
                    x1 = model_inputs(shape, x_te[:1])[0]
                    cap = int(args.peer_memory_gib * 2**30)
                    peer = measure_ezkl(model.path, x1, work, args.peer_timeout, cap)
                    ezkl[name] = {k: v for k, v in peer.items() if k != "log_tail"}
                    print(f"ezkl     {name:10s} batch   1: {_ezkl_summary(peer)}", flush=True)
    for row in rows:
        row["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if row["workload"] == "timit":
            row["timit_scale"] = args.timit_scale
        elif row["workload"] in ZOO_NETS:
            row["side"] = args.side
        if row["workload"] == "mobilenet_v2":
            row |= {"width": args.width, "classes": MOBILENET_CLASSES}

    def case(row: dict) -> tuple:
        shape = (str(row.get("input")), row.get("width", 1.0)) if row["workload"] in ZOO_NETS else None
        return row["workload"], row["batch"], shape

    # the rows of workloads not run this time are kept, a case run again is replaced
    merged = {case(r): r for r in earlier_rows("sumcheck.json")} | {case(r): r for r in rows}
    save_result(
        "sumcheck.json",
        {
            "benchmark": "sumcheck",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "rows": list(merged.values()),
            "groth16": {**_earlier("groth16", {}), **groth16},
            "ezkl": {**_earlier("ezkl", {}), **ezkl},
            "ezkl_version": peer_version or _earlier("ezkl_version", None),
        },
    )
    return 0


def _report(row: dict) -> None:
    print(
        f"sumcheck {row['workload']:10s} batch {row['batch']:3d}: commit {row['commit_seconds']:.2f} s, prove "
        f"{row['prove_seconds']:.2f} s, verify {row['verify_seconds']:.2f} s, proof "
        f"{row['proof_bytes'] / 1024:.0f} KiB, process {row['process']['seconds']:.1f} s "
        f"{row['process']['peak_rss_mib']:.0f} MiB",
        flush=True,
    )


def scaling() -> int:
    """MobileNet v2 at every width and input of the grid, smallest first; the rows, a Markdown
    table and a plot of prove time and peak memory against the input side, a line per width."""
    from benchmarks import RESULTS_DIR

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width in SCALING_WIDTHS:
            for side in SCALING_SIDES:
                row = measure("mobilenet_v2", 1, 1.0, side, width, Path(tmp))
                row |= {"width": width, "side": side, "classes": MOBILENET_CLASSES}
                print(f"width {width} side {side}:", end=" ")
                _report(row)
                rows.append(row)
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save_result(
        "sumcheck_scaling.json",
        {
            "benchmark": "sumcheck MobileNet v2 scaling",
            "date": date,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "rows": rows,
        },
    )
    from prover.formats.binfile import atomic_output

    table = scaling_table(rows)
    with atomic_output(RESULTS_DIR / "sumcheck_scaling.md", "w") as out:
        out.write(table)
    print(table)
    scaling_plot(rows, RESULTS_DIR / "sumcheck_scaling.png")
    return 0


def scaling_table(rows: list[dict]) -> str:
    """The grid as Markdown: a line per (width, side)."""
    lines = [
        "| width | input | parameters (torch) | prove (s) | peak memory (GiB) | verify (s) | proof (KiB) "
        "| commit (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['width']} | 3x{r['side']}x{r['side']} | {r['torch_parameters'] / 1e6:.2f}M "
            f"| {r['prove_seconds']:.1f} | {r['process']['peak_rss_mib'] / 1024:.2f} | {r['verify_seconds']:.2f} "
            f"| {r['proof_bytes'] / 1024:.0f} | {r['commit_seconds']:.1f} |"
        )
    lines.append("")
    lines.append(
        "Every tensor axis is padded to a power of two (``prover.sumcheck.inference``'s layout), so the "
        "activations of inputs 160 and 224 both pad to 256 x 256 and cost about the same."
    )
    return "\n".join(lines) + "\n"


def scaling_plot(rows: list[dict], path: Path) -> None:
    """Prove time and peak memory against the input side, a line per width, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from prover.formats.binfile import atomic_output

    fig, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for width in sorted({r["width"] for r in rows}):
        line = sorted((r for r in rows if r["width"] == width), key=lambda r: r["side"])
        sides = [r["side"] for r in line]
        time_axis.plot(sides, [r["prove_seconds"] for r in line], marker="o", label=f"width {width}")
        memory_axis.plot(sides, [r["process"]["peak_rss_mib"] / 1024 for r in line], marker="o", label=f"width {width}")
    for axis, label in ((time_axis, "prove time (s)"), (memory_axis, "peak memory (GiB)")):
        axis.set_xlabel("input side (3 x side x side)")
        axis.set_ylabel(label)
        axis.set_xticks(sorted({r["side"] for r in rows}))
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.suptitle("MobileNet v2 on the sumcheck backend, batch 1, 2 cores")
    fig.tight_layout()
    with atomic_output(path, "wb") as out:
        fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    print(f"saved {path}")


def _ezkl_summary(peer: dict) -> str:
    if "stopped_at" in peer:
        step = peer[peer["stopped_at"]]
        return f"stopped at {peer['stopped_at']}: {step['status']} after {step['seconds']:.0f} s"
    setup, prove = peer["setup"], peer["prove"]
    return (
        f"setup {setup['seconds']:.1f} s {setup['peak_rss_mib']:.0f} MiB, prove {prove['seconds']:.1f} s "
        f"{prove['peak_rss_mib']:.0f} MiB, proof "
        + (f"{peer['proof_bytes'] / 1024:.1f} KiB" if peer.get("proof_bytes") else "size unknown")
    )


def _earlier(key: str, default):
    """A key of the results saved before: the peers' sides of the workloads not run again."""
    from benchmarks import RESULTS_DIR

    try:
        return json.loads((RESULTS_DIR / "sumcheck.json").read_text()).get(key, default)
    except (OSError, ValueError):
        return default


if __name__ == "__main__":
    sys.exit(main())

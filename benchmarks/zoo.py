"""The zoo of third-party exports (``tests/zoo``, ``scripts/export_zoo.py``): one row per model.

Each row holds the export's ONNX operators, its parameters, the exact constraint counts of its
Groth16 circuit in both modes (private weights, public weights), and its accuracy against
onnxruntime. The trained models (scikit-learn's and torch's, on the digits split) are compared
by label agreement on the digits test split. The random torchvision nets are compared by label
agreement and by the error of their input-dependent logits on random inputs (see
``tests/test_torch_zoo.py``). The relative error of the dequantized logits against the float
graph is recorded for every model.

A model within the Groth16 backend's limit (``prover.circuit.size.check_fits``) is then compiled,
set up, proved and verified with the zkmarket CLI. It runs in private mode where that fits, else
in public-model mode. Each step is a child process; its wall time and peak resident memory are
recorded. A model past the limit in both modes is recorded as refused, with the estimate that
``model compile`` gives. The precision chosen in this process (``choose_precision`` for the
trained models, 16/14 bits for the random nets) is passed to ``model compile`` with ``--bits``,
so the compile step measures compiling.

    python -m benchmarks zoo [--models NAME ...] [--no-prove]

Results go to ``benchmarks/results/zoo.json`` (the rows of models not run this time are kept)
and are printed as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import RESULTS_DIR, earlier_rows, save_result
from benchmarks.models import SALT, cached_ptau, zkmarket_steps
from benchmarks.torch_zoo import PARAMETERS_KEY, ZOO, load_zoo_model

SKLEARN = ("sklearn_logreg", "sklearn_scaled_logreg", "sklearn_mlp", "sklearn_forest", "sklearn_boosted")
TRAINED_TORCH = ("torch_mlp_ts17", "transformer", "gru", "lstm")
RANDOM_TORCH = ("squeezenet1_1", "resnet18_ts17", "mobilenet_v2")
MODELS = (*SKLEARN, *TRAINED_TORCH, *RANDOM_TORCH)
# the random nets' precision and sample counts (as tests/test_torch_zoo.py)
RANDOM_BITS = (16, 14)
RANDOM_SAMPLES = 32
MIB = 2**20


def load(name: str):
    """The zoo model ``name`` as an ONNX ModelProto, with its weights."""
    import onnx

    return onnx.load(ZOO.parent / f"{name}.onnx") if name in SKLEARN else load_zoo_model(name)


def random_inputs(graph, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, *graph.input_tensor.shape))


def onnxruntime_outputs(model, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})


def quantized_and_accuracy(name: str, model) -> tuple[object, dict, np.ndarray, np.ndarray]:
    """The quantized graph, the accuracy row, the calibration inputs and one input to prove."""
    from marketplace.models import digits_split
    from prover.onnx import executor
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import Precision, choose_precision, quantize
    from prover.onnx.tail import class_labels

    graph = import_model(model)
    shape = graph.input_tensor.shape
    if name in RANDOM_TORCH:
        calibration = random_inputs(graph, RANDOM_SAMPLES, 1)
        precision = Precision(*RANDOM_BITS)
        q = quantize(graph, calibration, precision)
        x = random_inputs(graph, RANDOM_SAMPLES, 2)
        reference = onnxruntime_outputs(model, x)[0]
        prediction = executor.predict(q, x)
        ours = executor.dequantize(q, q.output, prediction.logits)
        error = ours - reference
        centred = reference - reference.mean(0)
        accuracy = {
            "inputs": f"{RANDOM_SAMPLES} uniform random",
            "label_agreement": float(np.mean(prediction.label == reference.argmax(-1))),
            "centred_logit_error": float(np.linalg.norm(error - error.mean(0)) / np.linalg.norm(centred)),
            "logit_error": float(np.linalg.norm(error) / np.linalg.norm(reference)),
        }
        return q, {"precision": list(RANDOM_BITS), **accuracy}, calibration, random_inputs(graph, 1, 4)[0]
    x_tr, y_tr, x_te, y_te = digits_split()
    x_tr, x_te = x_tr.reshape(len(x_tr), *shape), x_te.reshape(len(x_te), *shape)
    precision, q = choose_precision(graph, x_tr, y_tr)
    prediction = executor.predict(q, x_te)
    outputs = onnxruntime_outputs(model, x_te)
    if name in SKLEARN:  # the label output, and our label mapped to the exporter's classes
        reference_label = np.asarray(outputs[0])
        ours_label = np.asarray(class_labels(graph.meta["postprocess"], prediction.label))
    else:
        reference_label, ours_label = outputs[0].argmax(-1), prediction.label
    scores = executor.run_float(graph, x_te)
    real = executor.dequantize(q, q.output, prediction.logits)
    accuracy = {
        "inputs": f"digits test split ({len(x_te)})",
        "label_agreement": float(np.mean(ours_label == reference_label)),
        "accuracy_ours": float(np.mean(ours_label == y_te)),
        "accuracy_onnxruntime": float(np.mean(reference_label == y_te)),
        "logit_error": float(np.linalg.norm(real - scores) / np.linalg.norm(scores)),
    }
    bits = [precision.act_bits, precision.weight_bits]
    return q, {"precision": bits, **accuracy}, x_tr, x_te[0]


def sizes(name: str, q) -> dict:
    """Both modes' exact constraint counts, and the mode to prove in (None: refused in both)."""
    from prover.circuit import statements as S
    from prover.circuit.size import ModelTooLargeError, check_fits

    row: dict = {"prove_mode": None}
    for mode in ("private", "public"):
        size = S.inference_size(q, mode, 1)
        entry = {"constraints": size.constraints, "nonzeros": size.nonzeros, "domain_log2": size.domain_power}
        try:
            check_fits(size, name)
            row["prove_mode"] = row["prove_mode"] or mode
        except ModelTooLargeError as refusal:
            entry["refused"] = str(refusal)
        row[mode] = entry
    return row


def prove(name: str, model, bits: list[int], calibration: np.ndarray, x: np.ndarray, mode: str, work: Path) -> dict:
    """compile, setup, prove and verify with the CLI, each a measured child process."""
    import onnx

    onnx.save(model, work / "model.onnx")
    np.save(work / "calibration.npy", calibration)
    np.save(work / "input.npy", x)
    outdir, log = work / "model", work / "log.txt"
    steps: dict = {}
    step = zkmarket_steps(name, log, steps, echo=True)

    public = ["--public-model"] if mode == "public" else []
    compile_args = ["--calibration", work / "calibration.npy", "--bits", *bits, *public]
    step("compile", "model", "compile", work / "model.onnx", outdir, *compile_args)
    info = json.loads((outdir / "model.json").read_text())
    from prover.groth16.qap import domain_size

    power = domain_size(info["constraints"], len(info["public_inputs"])).bit_length() - 1
    step("setup", "model", "setup", outdir, "--ptau", cached_ptau(power))
    proof, public_json = work / "proof.json", work / "public.json"
    step("prove", "model", "prove", outdir, work / "input.npy", proof, public_json, "--salt", SALT)
    step("verify", "model", "verify", outdir, proof, public_json)
    return {"mode": mode, "constraints": info["constraints"], "parameters": info["parameters"], **steps}


def measure(name: str, do_prove: bool, work: Path) -> dict:
    from prover.circuit.compile import weight_names

    model = load(name)
    print(f"{name}: import, quantize, accuracy", flush=True)
    start = time.perf_counter()
    q, accuracy, calibration, x = quantized_and_accuracy(name, model)
    row: dict = {
        "model": name,
        "ops": sorted({n.op_type for n in model.graph.node}),
        "parameters": int(sum(q.constants[n].values.size for n in weight_names(q))),
        "exported_parameters": next((int(p.value) for p in model.metadata_props if p.key == PARAMETERS_KEY), None),
        "accuracy": accuracy,
        "quantize_seconds": time.perf_counter() - start,
    }
    print("  counting constraints", flush=True)
    row.update(sizes(name, q))
    if do_prove and row["prove_mode"]:
        work.mkdir()
        row["proved"] = prove(name, model, accuracy["precision"], calibration, x, row["prove_mode"], work)
    row["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    row["load_average"] = os.getloadavg()[0]
    return row


# --- report ----------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def table(rows: list[dict]) -> str:
    head = (
        f"{'model':<22}{'params':>10}{'private':>12}{'public':>11}{'mode':>9}{'compile':>8}{'setup':>7}"
        f"{'prove':>7}{'verify':>7}{'MiB':>7}{'agree':>7}{'acc':>7}{'ort acc':>8}{'logit err':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        p = r.get("proved")

        def cell(key: str, fmt: str = "{:.1f}", p: dict | None = p) -> str:
            return fmt.format(p[key]["seconds"]) if p else "-"

        peak = max(p[s]["peak_rss_mib"] for s in ("compile", "setup", "prove", "verify")) if p else None
        a = r["accuracy"]
        mode = r["prove_mode"] or "refused"
        if r["prove_mode"] and not p:
            mode += "?"  # within the limit, not proved in this run
        lines.append(
            f"{r['model']:<22}{r['parameters']:>10,}{r['private']['constraints']:>12,}"
            f"{r['public']['constraints']:>11,}{mode:>9}{cell('compile'):>8}{cell('setup'):>7}{cell('prove'):>7}"
            f"{cell('verify', '{:.2f}'):>7}{(f'{peak:.0f}' if peak else '-'):>7}{a['label_agreement']:>7.1%}"
            f"{_percent(a.get('accuracy_ours')):>7}{_percent(a.get('accuracy_onnxruntime')):>8}"
            f"{a['logit_error']:>10.3f}"
        )
    lines.append(
        "constraints of the private-weights and public-weights circuits; 'mode' is the one proved "
        "(private where it fits); seconds are wall time of zkmarket model compile/setup/prove/verify "
        "(prove: circuit, witness and proof); MiB is their peak RSS; 'agree' is label agreement "
        "with onnxruntime (digits test split for the trained models, random inputs for the random "
        "torchvision nets, which have no accuracy); 'logit err' the relative error of the dequantized logits"
    )
    for r in rows:
        lines.append(f"{r['model']}: {' '.join(r['ops'])}")
        for mode in ("private", "public"):
            if "refused" in r[mode]:
                lines.append(f"  {mode}: refused: {r[mode]['refused'].split('. Compile')[0]}")
    return "\n".join(lines)


def save(rows: list[dict]) -> None:
    merged = {r["model"]: r for r in earlier_rows("zoo.json")}
    merged.update({r["model"]: r for r in rows})
    ordered = sorted(merged.values(), key=lambda r: MODELS.index(r["model"]) if r["model"] in MODELS else 99)
    save_result(
        "zoo.json",
        {
            "benchmark": "zoo",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "rows": ordered,
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks zoo", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--no-prove", action="store_true", help="sizes and accuracy only")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep each model's files in DIR/NAME")
    args = parser.parse_args(argv)
    print(f"zoo: {len(args.models)} models, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_zoo_", dir=args.keep) as tmp:
        for name in args.models:
            rows.append(measure(name, not args.no_prove, (args.keep or Path(tmp)) / name))
            save(rows)  # after each model: a long run keeps what it measured
    print(table(json.loads((RESULTS_DIR / "zoo.json").read_text())["rows"]))
    return 0

"""`zkmarket model compile | witness | setup | prove | verify`: an ONNX model's inference proofs.

    zkmarket model compile MODEL.onnx OUTDIR [--calibration X.npy] [--labels Y.npy] [--public-model]
    zkmarket model witness OUTDIR INPUT.npy OUT.wtns [--salt HEX]
    zkmarket model setup OUTDIR [--ptau P]
    zkmarket model prove OUTDIR INPUT.npy PROOF.json PUBLIC.json [--salt HEX]
    zkmarket model verify OUTDIR PROOF.json PUBLIC.json

The statement is ``prover.circuit.statements``' inference statement: public signals (model
commitment, input commitment, label, output commitment). A compiled model directory holds:

    circuit.r1cs             the statement's R1CS (circom format)
    model.json               commitment, scales and bounds, constraint and wire counts, accuracy
    graph.json, weights.npz  the quantized graph: what the witness generator is rebuilt from
    circuit.zkey             proving key            (after ``setup``)
    verification_key.json    snarkjs verification key (after ``setup``)

INPUT.npy holds one real-valued input (the model's input shape, or a batch of one), scaled as
the model's training data; it is quantized with the scales chosen at compile time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from marketplace.cli.groth16 import INSECURE_KEY_WARNING, command_group, steps
from prover.errors import FormatError, VerificationError, ZkmarketError
from prover.field import FR_MODULUS
from prover.onnx.graph_file import load_graph, save_graph

MODEL_JSON = "model.json"
CIRCUIT_R1CS = "circuit.r1cs"
CIRCUIT_ZKEY = "circuit.zkey"
VERIFICATION_KEY = "verification_key.json"
# bump when the layout of a compiled directory changes
FORMAT_VERSION = 1


class ModelDirError(ZkmarketError):
    """A compiled model directory is missing a file or does not match itself."""


# --- a compiled model directory --------------------------------------------------------------


def read_model_json(directory: Path) -> dict:
    path = Path(directory) / MODEL_JSON
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelDirError(
            f"{directory} is not a compiled model (no {MODEL_JSON}): run zkmarket model compile MODEL.onnx OUTDIR first"
        ) from None
    except ValueError as exc:
        raise ModelDirError(f"{path} is not valid JSON ({exc}): compile the model again") from exc
    if info.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(
            f"{path} has format {info.get('format_version')}, this zkmarket reads "
            f"{FORMAT_VERSION}: compile the model again"
        )
    return info


def load_statement(directory: Path, show_progress: bool = False):
    """The inference circuit of a compiled model, rebuilt from its quantized graph, and its
    model.json. Checks that the graph still has the recorded model commitment and that the
    circuit has the recorded shape, so a witness is never made for another model."""
    from prover.circuit.statements import inference_circuit, model_commitment

    directory = Path(directory)
    info = read_model_json(directory)
    graph = load_graph(directory)
    if str(model_commitment(graph)) != info["model_commitment"]:
        raise ModelDirError(
            f"{directory}: the quantized graph does not match the model commitment in "
            f"{MODEL_JSON} (files changed or mixed up): compile the model again"
        )
    with steps("model circuit", ["build circuit"]) as step:
        step("build circuit")
        statement = inference_circuit(graph, info["mode"])
    r1cs = statement.r1cs
    if (r1cs.n_constraints, r1cs.n_wires) != (info["constraints"], info["wires"]):
        raise ModelDirError(
            f"{directory}: the rebuilt circuit has {r1cs.n_constraints} constraints and "
            f"{r1cs.n_wires} wires, {MODEL_JSON} records {info['constraints']} and "
            f"{info['wires']}: compile the model again with this version of zkmarket"
        )
    return statement, info


def _load_array(path: str, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file (the {what})") from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not a numpy .npy array ({exc}); save the {what} with numpy.save") from exc


def parse_salt(text: str | None) -> int:
    """A salt given in hex (``0x`` optional), or a fresh random one."""
    if text is None:
        return secrets.randbelow(FR_MODULUS)
    try:
        salt = int(text, 16)
    except ValueError:
        raise ZkmarketError(f"--salt {text!r} is not hexadecimal: give e.g. --salt 0x1f2e") from None
    if not 0 <= salt < FR_MODULUS:
        raise ZkmarketError("--salt must be below the BN254 scalar field modulus r: give a shorter value")
    return salt


def inference_witness(statement, input_path: str, salt: int):
    """Quantize the real input in ``input_path`` and compute the statement's witness for it.
    Raises InputShapeError for a wrong shape and ValueRangeError for values outside the
    quantized ranges."""
    from prover.onnx import executor
    from prover.onnx.graph import InputShapeError

    x = _load_array(input_path, "input")
    want = statement.graph.input_tensor.shape
    if x.shape == (1,) + tuple(want):
        x = x[0]
    if x.shape != tuple(want):
        raise InputShapeError(
            f"{input_path} holds shape {x.shape}, the model takes {tuple(want)} (or a batch of one): reshape the input"
        )
    if x.dtype.kind not in "iuf":
        raise FormatError(f"{input_path} holds {x.dtype} values, the model takes real numbers")
    x_quantized = executor.quantize_input(statement.graph, x)
    # the executor checks every bound first, naming the tensor that overflows
    executor.execute(statement.graph, x_quantized)
    return statement.witness(x_quantized, salt, show_progress=sys.stderr.isatty())


def _print_result(result, salt: int | None = None) -> None:
    print(f"label: {result.label}")
    print(f"output commitment: {result.public['output_commitment']}")
    print(f"input commitment: {result.public['input_commitment']}")
    print(f"model commitment: {result.public['model_commitment']}")
    if salt is not None:
        print(f"salt: {salt:#x}")


# --- compile ---------------------------------------------------------------------------------


def _calibration(args, graph, model_path: Path):
    """(calibration inputs, labels or None, precision or None, what the labels are) from the
    options, or the digits split for one of the project's example models."""
    from prover.onnx.graph import InputShapeError

    want = tuple(graph.input_tensor.shape)
    if args.calibration is None:
        if args.labels is not None:
            raise ZkmarketError("--labels needs --calibration: the labels are those of the calibration inputs")
        example = _example_model(model_path)
        if example is None:
            raise ZkmarketError(
                "no calibration inputs: give --calibration X.npy, a batch of typical inputs "
                f"of shape (N, {', '.join(map(str, want))}) scaled like the training data"
            )
        from marketplace.models import digits_split, model_inputs

        x_tr, _, x_te, y_te = digits_split()
        return (
            model_inputs(example.input_shape, x_tr),
            None,
            example.precision,
            model_inputs(example.input_shape, x_te),
            y_te,
            "digits test split",
        )
    x = _load_array(args.calibration, "calibration inputs")
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise InputShapeError(
            f"{args.calibration} holds shape {x.shape}, calibration needs a batch "
            f"(N, {', '.join(map(str, want))}) with N >= 1: reshape it"
        )
    if x.dtype.kind not in "iuf":
        raise FormatError(f"{args.calibration} holds {x.dtype} values, calibration needs real numbers")
    x = x.astype(np.float64)
    if args.labels is None:
        return x, None, None, None, None, None
    y = _load_array(args.labels, "labels")
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise InputShapeError(
            f"{args.labels} holds {y.dtype} of shape {y.shape}: --labels needs {len(x)} "
            "integer class labels, one per calibration input"
        )
    return x, y, None, x, y, "calibration inputs"


def _example_model(model_path: Path):
    """The example model whose ONNX file has the same bytes, if any."""
    from marketplace.models import example_models

    digest = hashlib.sha256(model_path.read_bytes()).digest()
    for example in example_models().values():
        if example.path.exists() and hashlib.sha256(example.path.read_bytes()).digest() == digest:
            return example
    return None


def _check_outdir(outdir: Path) -> None:
    if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
        raise ZkmarketError(
            f"{outdir} already exists and is not an empty directory: remove it or choose another output directory"
        )


def compile_model(args: argparse.Namespace) -> dict:
    """Compile ``args.model`` into ``args.outdir`` (see the module docstring); returns
    model.json's content. The files are written into a temporary directory that is renamed to
    OUTDIR only when complete: on any error or interruption nothing is left behind."""
    from prover.circuit.statements import PUBLIC_INPUTS, architecture_hash, inference_circuit, model_commitment
    from prover.formats.r1cs import write_r1cs
    from prover.onnx.importer import import_model
    from prover.onnx.quantize import Precision, accuracy, choose_precision, quantize

    model_path, outdir = Path(args.model), Path(args.outdir)
    if not model_path.is_file():
        raise FormatError(f"{model_path}: no such ONNX file")
    _check_outdir(outdir)
    mode = "public" if args.public_model else "private"
    names = ["import", "quantize", "build circuit", "write files"]
    with steps("model compile", names) as step:
        step("import")
        graph = import_model(model_path)  # refuses unsupported ops before any work
        x, y, precision, x_eval, y_eval, evaluated_on = _calibration(args, graph, model_path)
        step("quantize")
        if args.bits is not None:
            precision = Precision(*args.bits)
        if precision is None and y is not None:
            precision, quantized = choose_precision(graph, x, y)
        else:
            quantized = quantize(graph, x, precision or Precision())
            precision = precision or Precision()
        step("build circuit")
        statement = inference_circuit(quantized, mode)
        r1cs = statement.r1cs
        info = {
            "format_version": FORMAT_VERSION,
            "source": {"file": model_path.name, "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest()},
            "mode": mode,
            "public_inputs": list(PUBLIC_INPUTS),
            "model_commitment": str(model_commitment(quantized)),
            "architecture_hash": str(architecture_hash(quantized)),
            "precision": asdict(precision),
            "calibration_samples": int(len(x)),
            "input": _tensor_info(quantized, quantized.input),
            "output": _tensor_info(quantized, quantized.output),
            "scales": {
                n: {"scale": t.scale, "bits": t.bits, "checked": t.checked} for n, t in quantized.tensors.items()
            },
            "parameters": int(sum(quantized.constants[n].values.size for n in _weights(quantized))),
            "constraints": int(r1cs.n_constraints),
            "wires": int(r1cs.n_wires),
        }
        if y_eval is not None:
            info["accuracy"] = {
                "evaluated_on": evaluated_on,
                "samples": int(len(y_eval)),
                "float": accuracy(graph, x_eval, y_eval),
                "quantized": accuracy(quantized, x_eval, y_eval),
            }
        step("write files")
        _check_outdir(outdir)
        outdir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".tmp", dir=outdir.parent))
        try:
            write_r1cs(r1cs, tmp / CIRCUIT_R1CS)
            save_graph(quantized, tmp)
            (tmp / MODEL_JSON).write_text(json.dumps(info, indent=1) + "\n")
            os.chmod(tmp, 0o755)
            os.rename(tmp, outdir)  # replaces an empty outdir; nothing partial is ever visible
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return info


def _weights(graph) -> list[str]:
    from prover.circuit.compile import weight_names

    return weight_names(graph)


def _tensor_info(graph, name: str) -> dict:
    t = graph.tensors[name]
    return {"name": name, "shape": list(t.shape), "scale": t.scale, "bits": t.bits}


def run_compile(args: argparse.Namespace) -> int:
    info = compile_model(args)
    print(f"model commitment: {info['model_commitment']}")
    print(f"constraints: {info['constraints']}  wires: {info['wires']}  mode: {info['mode']}")
    if "accuracy" in info:
        a = info["accuracy"]
        print(
            f"accuracy on the {a['evaluated_on']} ({a['samples']}): float {a['float']:.4f}, "
            f"quantized {a['quantized']:.4f}"
        )
    return 0


# --- witness, setup, prove, verify -----------------------------------------------------------


def run_witness(args: argparse.Namespace) -> int:
    from prover.formats.wtns import write_wtns

    salt = parse_salt(args.salt)
    statement, _ = load_statement(Path(args.outdir))
    result = inference_witness(statement, args.input, salt)
    write_wtns(result.witness, args.wtns)
    _print_result(result, salt)
    return 0


def setup_model(outdir, ptau_path=None, progress: bool = False) -> None:
    """Proving and verification keys for a compiled model, from a prepared powers of tau (or,
    without one, from a throw-away random one: fine for trying things, not for real keys)."""
    from prover.formats.ptau import read_ptau
    from prover.formats.r1cs import read_r1cs
    from prover.formats.snarkjs_json import write_verification_key
    from prover.formats.zkey import write_zkey
    from prover.groth16.qap import domain_size
    from prover.groth16.setup import setup

    outdir = Path(outdir)
    read_model_json(outdir)
    with steps("model setup", ["read r1cs", "powers of tau", "compute key", "write keys"]) as step:
        step("read r1cs")
        r1cs = read_r1cs(outdir / CIRCUIT_R1CS)
        step("powers of tau")
        if ptau_path is None:
            from prover.ceremony.known_secret import known_secret_ptau

            power = domain_size(r1cs.n_constraints, r1cs.n_public).bit_length() - 1
            # secrets drawn here and dropped: only this process ever knew them
            draw = lambda: secrets.randbelow(FR_MODULUS - 1) + 1  # noqa: E731
            ptau = known_secret_ptau(max(power, 1), draw(), draw(), draw(), progress=progress)
        else:
            ptau = read_ptau(ptau_path)
        step("compute key")
        pk = setup(r1cs, ptau)
        del ptau
        step("write keys")
        write_zkey(pk, outdir / CIRCUIT_ZKEY)
        write_verification_key(pk.verifying_key(), outdir / VERIFICATION_KEY)


def run_setup(args: argparse.Namespace) -> int:
    setup_model(args.outdir, args.ptau, progress=sys.stderr.isatty())
    if args.ptau is None:
        print(
            "zkmarket: warning: no --ptau: the powers of tau came from one local random secret; "
            "use a public multi-party powers of tau for real keys",
            file=sys.stderr,
        )
    print(INSECURE_KEY_WARNING, file=sys.stderr)
    print(f"wrote {Path(args.outdir) / CIRCUIT_ZKEY} and {Path(args.outdir) / VERIFICATION_KEY}")
    return 0


def run_prove(args: argparse.Namespace) -> int:
    from prover.formats.snarkjs_json import write_proof, write_public
    from prover.formats.zkey import read_zkey
    from prover.groth16.prove import prove

    outdir = Path(args.outdir)
    salt = parse_salt(args.salt)
    if not (outdir / CIRCUIT_ZKEY).exists():
        read_model_json(outdir)
        raise ModelDirError(f"{outdir} has no proving key: run zkmarket model setup {outdir} first")
    statement, _ = load_statement(outdir)
    result = inference_witness(statement, args.input, salt)
    pk = read_zkey(outdir / CIRCUIT_ZKEY)
    if (pk.n_vars, pk.n_public) != (statement.r1cs.n_wires, statement.r1cs.n_public):
        raise ModelDirError(
            f"{outdir / CIRCUIT_ZKEY} is for another circuit ({pk.n_vars} wires): "
            f"run zkmarket model setup {outdir} again"
        )
    proof, public = prove(pk, result.witness, progress=sys.stderr.isatty(), r1cs=statement.r1cs)
    write_proof(proof, args.proof)
    write_public(public, args.public)
    _print_result(result, salt)
    return 0


def verify_model(outdir, proof_path, public_path) -> list[int]:
    """Check an inference proof against a compiled model: the public signals name this model's
    commitment and the proof verifies under its key. Returns the public signals; raises
    VerificationError otherwise."""
    from prover.formats.snarkjs_json import read_proof, read_public, read_verification_key
    from prover.groth16.verify import verify

    outdir = Path(outdir)
    info = read_model_json(outdir)
    if not (outdir / VERIFICATION_KEY).exists():
        raise ModelDirError(f"{outdir} has no verification key: run zkmarket model setup {outdir} first")
    vk = read_verification_key(outdir / VERIFICATION_KEY)
    public = read_public(public_path)
    proof = read_proof(proof_path)
    names = info["public_inputs"]
    if len(public) != len(names) or vk.n_public != len(names):
        raise VerificationError(
            f"{public_path} holds {len(public)} public signals, an inference statement "
            f"has {len(names)} ({', '.join(names)}): is it for this model?"
        )
    # in private mode every model of one architecture shares the circuit and key: the
    # commitment is what ties the proof to these weights
    if str(public[names.index("model_commitment")]) != info["model_commitment"]:
        raise VerificationError(
            f"{public_path} is about another model (model commitment "
            f"{public[names.index('model_commitment')]}, {outdir} has "
            f"{info['model_commitment']})"
        )
    if not verify(vk, public, proof):
        raise VerificationError(
            f"invalid proof: {proof_path} does not verify for the public signals in "
            f"{public_path} under {outdir / VERIFICATION_KEY}"
        )
    return public


def run_verify(args: argparse.Namespace) -> int:
    public = verify_model(args.outdir, args.proof, args.public)
    names = read_model_json(Path(args.outdir))["public_inputs"]
    print("OK")
    for name, value in zip(names, public):
        print(f"{name.replace('_', ' ')}: {value}")
    return 0


OUTDIR = ("outdir", {"help": "compiled model directory"})
INPUT = ("input", {"help": "INPUT.npy: one real-valued input"})
SALT = ("--salt", {"metavar": "HEX", "help": "salt of the input commitment (default: random, printed)"})

# verb -> (help, run, arguments in order)
VERBS: dict[str, tuple[str, Callable[[argparse.Namespace], int], list[tuple[str, dict[str, Any]]]]] = {
    "compile": (
        "quantize an ONNX model and compile its inference circuit",
        run_compile,
        [
            ("model", {"help": "MODEL.onnx"}),
            ("outdir", {"help": "directory to create (must not hold files)"}),
            (
                "--calibration",
                {
                    "metavar": "X.npy",
                    "help": "batch of typical real inputs (N, *input shape) to "
                    "choose the scales from (default for the example models: their digits training split)",
                },
            ),
            (
                "--labels",
                {
                    "metavar": "Y.npy",
                    "help": "labels of the calibration inputs: the cheapest precision "
                    "keeping the accuracy is chosen, and the accuracy is recorded",
                },
            ),
            (
                "--public-model",
                {
                    "action": "store_true",
                    "help": "weights as circuit constants (both sides know them; linear layers are free)",
                },
            ),
            (
                "--bits",
                {
                    "type": int,
                    "nargs": 2,
                    "metavar": ("ACT", "WEIGHT"),
                    "help": "activation and weight bit widths (default: chosen from --labels, else 8 8)",
                },
            ),
        ],
    ),
    "witness": (
        "witness (.wtns) of one input; prints the label and commitments",
        run_witness,
        [OUTDIR, INPUT, ("wtns", {"help": "witness to write (.wtns)"}), SALT],
    ),
    "setup": (
        "proving and verification keys of a compiled model",
        run_setup,
        [
            OUTDIR,
            (
                "--ptau",
                {
                    "metavar": "P",
                    "help": "powers of tau prepared for phase 2 (default: a throw-away local one, for trying things)",
                },
            ),
        ],
    ),
    "prove": (
        "prove the model's inference on one input",
        run_prove,
        [OUTDIR, INPUT, ("proof", {"help": "PROOF.json to write"}), ("public", {"help": "PUBLIC.json to write"}), SALT],
    ),
    "verify": (
        "verify an inference proof; exit status 0 and OK when valid",
        run_verify,
        [OUTDIR, ("proof", {"help": "PROOF.json"}), ("public", {"help": "PUBLIC.json"})],
    ),
}


def register(subparsers) -> None:
    verbs = command_group(subparsers, "model", "compile an ONNX model and prove its inferences", __doc__)
    for verb, (help_text, run, arguments) in VERBS.items():
        parser = verbs.add_parser(verb, help=help_text)
        for name, options in arguments:
            parser.add_argument(name, **options)
        parser.set_defaults(run=run)

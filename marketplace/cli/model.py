"""`zkmarket model compile | witness | setup | prove | verify`: an ONNX model's inference proofs.

    zkmarket model compile MODEL.onnx OUTDIR [--calibration X.npy] [--labels Y.npy] [--public-model]
    zkmarket model witness OUTDIR INPUT.npy OUT.wtns [--salt HEX]
    zkmarket model setup OUTDIR [--ptau P]
    zkmarket model prove OUTDIR INPUT.npy PROOF.json PUBLIC.json [--salt HEX]
    zkmarket model verify OUTDIR PROOF.json PUBLIC.json

The statement is ``prover.circuit.statements``' inference statement: public signals (model
commitment, input commitment, label, output commitment). Every verb runs the setup pipeline
(``marketplace.setup.pipeline``) on a compiled-model folder, whose layout and ``model.json``
schema are ``marketplace.setup.model_folder``'s: ``compile`` writes ``model.json``,
``circuit.r1cs`` and the quantized graph (``graph.json``, ``weights.npz``); ``setup`` adds
``circuit.zkey`` and ``verification_key.json``.

INPUT.npy holds one real-valued input (the model's input shape, or a batch of one), scaled as
the model's training data; it is quantized with the scales chosen at compile time.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from marketplace.cli.options import INSECURE_KEY_WARNING, Verbs, add_verbs, command_group, load_array, steps
from marketplace.setup.model_folder import (
    CIRCUIT_R1CS,
    CIRCUIT_ZKEY,
    VERIFICATION_KEY,
    ModelFolderError,
    load_compiled,
    read_model_json,
)
from prover.errors import CircuitError, FormatError, VerificationError, ZkmarketError
from prover.field import FR_MODULUS

if TYPE_CHECKING:
    import numpy as np


def load_statement(directory: Path):
    """The inference statement of a compiled model and its model.json, rebuilt and checked by
    the folder's reader (``load_compiled``), so a witness is never made for another model. Its
    witness program alone: the witness and prove verbs make witnesses, the folder holds the
    R1CS and the key it was made for, and a proof is checked against that key."""
    with steps("model circuit", ["build witness program"]) as step:
        step("build witness program")
        compiled = load_compiled(directory, witness_only=True)
    return compiled.circuit, compiled.info


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

    x = load_array(input_path, "input")
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


def compile_model(args: argparse.Namespace) -> dict:
    """Compile ``args.model`` into ``args.outdir`` with the setup pipeline (quantize, then the
    inference circuit); returns model.json's content. Nothing is left behind on any error."""
    from marketplace.setup.pipeline import check_empty_folder, compile_model, quantized_graph
    from prover.onnx.quantize import Precision

    model_path, outdir = Path(args.model), Path(args.outdir)
    if not model_path.is_file():
        raise FormatError(f"{model_path}: no such ONNX file")
    check_empty_folder(outdir)
    calibration = None if args.calibration is None else load_array(args.calibration, "calibration inputs")
    labels = None if args.labels is None else load_array(args.labels, "labels")
    with steps("model compile", ["import + quantize", "build circuit", "write files"]) as step:
        step("import + quantize")
        model = quantized_graph(
            model_path,
            calibration,
            None if args.bits is None else Precision(*args.bits),
            labels=labels,
            calibration_name=str(args.calibration),
        )
        if getattr(args, "backend", "groth16") == "sumcheck":
            step("write files")
            return compile_sumcheck(model, outdir)
        compiled = compile_model(model, outdir, "public" if args.public_model else "private", step)
    return compiled.info


def run_compile(args: argparse.Namespace) -> int:
    if args.backend == "sumcheck" and args.public_model:
        raise ZkmarketError("--public-model is a Groth16 circuit mode: the sumcheck backend always commits the weights")
    info = compile_model(args)
    if args.backend == "groth16":
        print(f"model commitment: {int(info['model_commitment'], 16)}")
        print(f"constraints: {info['constraints']}  wires: {info['wires']}  mode: {info['mode']}")
    if "accuracy" in info:
        a = info["accuracy"]
        print(
            f"accuracy on the {a['evaluated_on']} ({a['samples']}): float {a['float']:.4f}, "
            f"quantized {a['quantized']:.4f}"
        )
    return 0


# --- witness, setup, prove, verify -----------------------------------------------------------


def _backend(outdir) -> str:
    from marketplace.setup.model_folder import folder_backend

    return folder_backend(outdir)


def run_witness(args: argparse.Namespace) -> int:
    from prover.formats.wtns import write_wtns

    if _backend(args.outdir) == "sumcheck":
        raise ZkmarketError(
            f"{args.outdir} is compiled for the sumcheck backend, which has no witness file: run model prove"
        )

    salt = parse_salt(args.salt)
    statement, _ = load_statement(Path(args.outdir))
    result = inference_witness(statement, args.input, salt)
    write_wtns(result.witness, args.wtns)
    _print_result(result, salt)
    return 0


def setup_model(outdir, ptau_path=None, progress: bool = False) -> None:
    """Proving and verification keys for a compiled model (the pipeline's key step), from a
    prepared powers of tau (or, without one, from a throw-away random one: fine for trying
    things, not for real keys)."""
    from marketplace.setup.pipeline import circuit_power, proving_key, throwaway_ptau, write_key
    from prover.formats.ptau import read_ptau
    from prover.formats.r1cs import read_r1cs

    outdir = Path(outdir)
    info = read_model_json(outdir)
    with steps("model setup", ["read r1cs", "powers of tau", "compute key", "write keys"]) as step:
        step("read r1cs")
        r1cs = read_r1cs(outdir / CIRCUIT_R1CS)
        step("powers of tau")
        ptau = throwaway_ptau(circuit_power(r1cs), progress) if ptau_path is None else read_ptau(ptau_path)
        step("compute key")
        pk = proving_key(r1cs, ptau)
        del ptau
        step("write keys")
        write_key(outdir, info, pk)


def run_setup(args: argparse.Namespace) -> int:
    if _backend(args.outdir) == "sumcheck":
        from marketplace.setup.sumcheck_folder import DEFAULT_MAX_BATCH

        args.max_batch = DEFAULT_MAX_BATCH if args.max_batch is None else args.max_batch
        return sumcheck_setup(args)
    if args.max_batch is not None:
        raise ZkmarketError("--max-batch is for sumcheck folders: a Groth16 key proves one input at a time")
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
    """Prove with the folder's key, and write the proof only once it verifies under that key's
    own verifying key: the check a witness-program rebuild leaves to the key (see
    ``unverified_proof`` for why one would not)."""
    from concurrent.futures import ThreadPoolExecutor

    from prover.formats.snarkjs_json import write_proof, write_public
    from prover.formats.zkey import read_zkey
    from prover.groth16.keys import check_key_matches
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    if _backend(args.outdir) == "sumcheck":
        return sumcheck_prove(args)
    outdir = Path(args.outdir)
    zkey = outdir / CIRCUIT_ZKEY
    salt = parse_salt(args.salt)
    if not zkey.exists():
        read_model_json(outdir)
        raise ModelFolderError(f"{outdir} has no proving key: run zkmarket model setup {outdir} first")
    with ThreadPoolExecutor(max_workers=1) as reader:
        # the key is read while the witness is made: most of reading it (the canonical-value
        # checks) runs in numpy without the GIL; its points stay in Montgomery form, for the prover
        key = reader.submit(read_zkey, zkey, montgomery_points=True)
        statement, _ = load_statement(outdir)
        result = inference_witness(statement, args.input, salt)
        pk = key.result()
    check_key_matches(pk, statement.circuit, zkey, f"run zkmarket model setup {outdir} again")
    proof, public = prove(pk, result.witness, progress=sys.stderr.isatty())
    if not verify(pk.verifying_key(), public, proof):
        raise unverified_proof(outdir, result.witness)
    write_proof(proof, args.proof)
    write_public(public, args.public)
    _print_result(result, salt)
    return 0


def unverified_proof(outdir: Path, witness) -> ZkmarketError:
    """Why a proof made with a folder's key does not verify under that key: the witness breaks a
    constraint of the circuit this zkmarket builds (its R1CS rebuilt here, which a proof that
    verifies never needs), or the key was made for another circuit of the same size."""
    from prover.groth16.prove import check_satisfies

    check_satisfies(load_compiled(outdir).circuit.r1cs, witness)  # raises CircuitError naming the constraint
    return CircuitError(
        f"{outdir / CIRCUIT_ZKEY} is not a key for this model's circuit (the proof made with it "
        f"does not verify under its own verifying key): run zkmarket model setup {outdir} again"
    )


def verify_model(outdir, proof_path, public_path) -> list[int]:
    """Check an inference proof against a compiled model: the public signals name this model's
    commitment and the proof verifies under its key. Returns the public signals; raises
    VerificationError otherwise."""
    from prover.formats.snarkjs_json import read_proof, read_public, read_verification_key
    from prover.groth16.verify import verify

    outdir = Path(outdir)
    info = read_model_json(outdir)
    if not (outdir / VERIFICATION_KEY).exists():
        raise ModelFolderError(f"{outdir} has no verification key: run zkmarket model setup {outdir} first")
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
    commitment = int(info["model_commitment"], 16)
    if int(public[names.index("model_commitment")]) != commitment:
        raise VerificationError(
            f"{public_path} is about another model (model commitment "
            f"{public[names.index('model_commitment')]}, {outdir} has {commitment})"
        )
    if not verify(vk, public, proof):
        raise VerificationError(
            f"invalid proof: {proof_path} does not verify for the public signals in "
            f"{public_path} under {outdir / VERIFICATION_KEY}"
        )
    return public


def run_verify(args: argparse.Namespace) -> int:
    if _backend(args.outdir) == "sumcheck":
        return sumcheck_verify(args)
    public = verify_model(args.outdir, args.proof, args.public)
    names = read_model_json(Path(args.outdir))["public_inputs"]
    print("OK")
    for name, value in zip(names, public):
        print(f"{name.replace('_', ' ')}: {value}")
    return 0


# --- the sumcheck backend --------------------------------------------------------------------
#
#   zkmarket model compile MODEL.onnx OUTDIR --backend sumcheck [--calibration X.npy] [--bits A W]
#   zkmarket model setup OUTDIR [--ptau P] [--max-batch N]     the one-time weight commitment
#   zkmarket model prove OUTDIR INPUTS.npy PROOF.json PUBLIC.json   a batch of inputs, one proof
#   zkmarket model verify OUTDIR PROOF.json PUBLIC.json
#
# The proof (``prover.sumcheck.proof_file``) states that the outputs in PUBLIC.json are the
# committed model's on its inputs, bit for bit as the integer executor computes them. PUBLIC.json
# holds the quantized inputs and outputs in the clear (hiding commitments are a later step of the
# backend) and names the model by both commitments. Verification is off-chain.

PUBLIC_FORMAT = "zkmarket-sumcheck-public"
PUBLIC_VERSION = 2  # 2: the salts and the inputs' and outputs' commitments
# a public file of the largest batch this backend takes is a few MB
MAX_PUBLIC_BYTES = 64 << 20


def compile_sumcheck(model, outdir: Path) -> dict:
    from marketplace.setup import sumcheck_folder

    info = sumcheck_folder.compile_folder(model, outdir)
    print(f"model commitment: {int(info['model_commitment'], 16)}")
    print(f"backend: sumcheck  parameters: {info['parameters']}")
    return info


def sumcheck_setup(args: argparse.Namespace) -> int:
    from marketplace.setup import sumcheck_folder
    from marketplace.store import sha256_file
    from prover.formats.ptau import read_ptau

    if args.max_batch < 1:
        raise ZkmarketError(f"--max-batch {args.max_batch}: a proof covers at least one input; give 1 or more")
    outdir = Path(args.outdir)
    model = sumcheck_folder.load(outdir)
    assert model.graph is not None
    from prover.sumcheck.inference import key_power

    power = key_power(model.graph, args.max_batch)
    with steps("model setup (sumcheck)", ["powers of tau", "commit weights"]) as step:
        step("powers of tau")
        if args.ptau is None:
            from marketplace.setup.pipeline import throwaway_ptau

            ptau, digest = throwaway_ptau(power, progress=sys.stderr.isatty()), "throw-away"
            print(
                "zkmarket: warning: no --ptau: the powers of tau came from one local random secret; "
                "use a public multi-party powers of tau for real commitments",
                file=sys.stderr,
            )
        else:
            ptau, digest = read_ptau(args.ptau), sha256_file(Path(args.ptau))
        step("commit weights")
        try:
            info = sumcheck_folder.setup_folder(outdir, ptau, digest, args.max_batch)
        except ValueError as exc:
            raise ZkmarketError(f"{exc} (batches of up to {args.max_batch} need 2^{power})") from None
    print(f"committed {len(info['setup']['weight_commitments'])} weight tables with 2^{power} powers of tau")
    return 0


def _sumcheck_batch(model, path: str) -> np.ndarray:
    """The real inputs in ``path``: a batch (N, *shape), or one input of the model's shape."""
    from prover.onnx.graph import InputShapeError

    x = load_array(path, "inputs")
    want = tuple(model.architecture.input_tensor.shape)
    if x.shape == want:
        x = x[None]
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise InputShapeError(f"{path} holds shape {x.shape}: give a batch (N, {', '.join(map(str, want))})")
    if x.dtype.kind not in "iuf":
        raise FormatError(f"{path} holds {x.dtype} values, the model takes real numbers")
    max_batch = model.info["setup"]["max_batch"]
    if len(x) > max_batch:
        raise ZkmarketError(
            f"{path} holds {len(x)} inputs, the setup's key covers batches of up to {max_batch}: split the "
            f"batch or run the setup again with --max-batch {len(x)}"
        )
    return x


def _sumcheck_set_up(model, outdir: Path):
    if model.info.get("setup") is None:
        raise ModelFolderError(f"{outdir} has no commitment key yet: run zkmarket model setup {outdir} first")


def sumcheck_prove(args: argparse.Namespace) -> int:
    import numpy as np

    from marketplace.setup import sumcheck_folder
    from prover.onnx import executor
    from prover.sumcheck.inference import io_commitments, prove_inference, verify_inference
    from prover.sumcheck.proof_file import write_proof

    outdir = Path(args.outdir)
    model = sumcheck_folder.load(outdir)
    _sumcheck_set_up(model, outdir)
    graph = model.graph
    assert graph is not None and model.key is not None and model.weights is not None
    x = executor.quantize_input(graph, _sumcheck_batch(model, args.input))
    executor.execute(graph, x)  # names the tensor that overflows, before any proving
    salts = [secrets.randbelow(FR_MODULUS) for _ in range(len(x))]
    with steps("model prove (sumcheck)", ["prove", "check", "write"]) as step:
        step("prove")
        outputs, proof = prove_inference(model.key, graph, x, model.weights, model.seed, salts)
        step("check")  # a proof from a folder whose weights differ from its registration fails here
        verify_inference(model.key.verifier, model.architecture, model.weights, x, outputs, proof, salts)
        step("write")
        write_proof(proof, args.proof)
        write_sumcheck_public(args.public, model.info, x, outputs, salts, io_commitments(graph, x, outputs, salts))
    print(f"proved {len(x)} inference(s): labels {[int(v) for v in np.argmax(outputs, axis=-1)]}")
    return 0


def write_sumcheck_public(path, info: dict, inputs: np.ndarray, outputs: np.ndarray, salts, io: list[int]) -> None:
    """PUBLIC.json: the model, the batch's inputs and outputs, their salts, and each sample's
    input and output commitment (``prover.sumcheck.inference.io_commitments``): the commitments
    are what the statement holds, the rest their opening, for the consumer alone."""
    import numpy as np

    from marketplace.store import write_json

    write_json(
        Path(path),
        {
            "format": PUBLIC_FORMAT,
            "version": PUBLIC_VERSION,
            "model_commitment": info["model_commitment"],
            "architecture_hash": info["architecture_hash"],
            "inputs": np.asarray(inputs).tolist(),
            "outputs": np.asarray(outputs).tolist(),
            "salts": [hex(v) for v in salts],
            "input_commitments": [hex(v) for v in io[0::2]],
            "output_commitments": [hex(v) for v in io[1::2]],
        },
    )


def read_sumcheck_public(path) -> dict:
    """PUBLIC.json of a sumcheck proof, its inputs and outputs as int64 arrays, its salts and
    commitments as ints (one of each per input); FormatError for anything else."""
    import json

    import numpy as np

    path = Path(path)
    try:
        if path.stat().st_size > MAX_PUBLIC_BYTES:
            raise FormatError(f"{path} is larger than any public file ({MAX_PUBLIC_BYTES:,} bytes)")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FormatError(f"{path}: no such public file") from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path} is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != PUBLIC_FORMAT or data.get("version") != PUBLIC_VERSION:
        raise FormatError(f"{path} is not a {PUBLIC_FORMAT} file of version {PUBLIC_VERSION}")
    for name in ("inputs", "outputs"):
        try:
            array = np.array(data.get(name), dtype=object)
            if array.ndim < 2 or not all(type(v) is int for v in array.reshape(-1)):
                raise ValueError
            data[name] = np.array(array.tolist(), dtype=np.int64)
        except (ValueError, TypeError, OverflowError):
            raise FormatError(f"{path}: {name!r} must be a batch of integer arrays") from None
    for name in ("salts", "input_commitments", "output_commitments"):
        items = data.get(name)
        if not isinstance(items, list) or len(items) != len(data["inputs"]):
            raise FormatError(f"{path}: {name!r} must list one hex field element per input")
        data[name] = [_hex_element(v) for v in items]
        if None in data[name]:
            raise FormatError(f"{path}: {name!r} must list one hex field element (0x..., below r) per input")
    return data


def _hex_element(text) -> int | None:
    """A field element written 0x..., or None."""
    if not isinstance(text, str) or not text.startswith("0x") or len(text) > 66:
        return None
    try:
        value = int(text, 16)
    except ValueError:
        return None
    return value if 0 <= value < FR_MODULUS else None


def sumcheck_verify(args: argparse.Namespace) -> int:
    import numpy as np

    from marketplace.setup import sumcheck_folder
    from prover.errors import ValueRangeError
    from prover.sumcheck.inference import io_commitments, verify_inference
    from prover.sumcheck.proof_file import read_proof

    outdir = Path(args.outdir)
    model = sumcheck_folder.load(outdir, prover=False)
    _sumcheck_set_up(model, outdir)
    public = read_sumcheck_public(args.public)
    for name in ("model_commitment", "architecture_hash"):
        if public.get(name) != model.info[name]:
            raise VerificationError(f"{args.public} is about another model ({name} {public.get(name)!r})")
    proof = read_proof(args.proof)
    assert model.verifier_key is not None and model.weights is not None
    try:
        io = io_commitments(model.architecture, public["inputs"], public["outputs"], public["salts"])
    except (ValueError, ValueRangeError) as exc:
        raise VerificationError(f"invalid proof: {args.public} does not open its commitments ({exc})") from exc
    if io[0::2] != public["input_commitments"] or io[1::2] != public["output_commitments"]:
        raise VerificationError(
            f"invalid proof: the commitments in {args.public} are not those of its inputs, outputs and salts"
        )
    try:
        verify_inference(
            model.verifier_key,
            model.architecture,
            model.weights,
            public["inputs"],
            public["outputs"],
            proof,
            public["salts"],
        )
    except VerificationError as exc:
        raise VerificationError(
            f"invalid proof: {args.proof} does not prove the outputs in {args.public} for the model in {outdir} ({exc})"
        ) from exc
    print("OK")
    print(f"inferences: {len(public['inputs'])}  labels: {[int(v) for v in np.argmax(public['outputs'], axis=-1)]}")
    return 0


OUTDIR = ("outdir", {"help": "compiled model directory"})
INPUT = ("input", {"help": "INPUT.npy: one real-valued input"})
SALT = ("--salt", {"metavar": "HEX", "help": "salt of the input commitment (default: random, printed)"})

VERBS: Verbs = {
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
            (
                "--backend",
                {
                    "choices": ["groth16", "sumcheck"],
                    "default": "groth16",
                    "help": "groth16: one circuit, 256-byte proofs settled on-chain; sumcheck: big models and "
                    "batches, weights committed once (off-chain verification)",
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
            (
                "--max-batch",
                {
                    "type": int,
                    "metavar": "N",
                    "help": "sumcheck folders: the largest batch one proof covers (default 64)",
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
    add_verbs(verbs, VERBS)

"""The ``zkmarket model`` verbs on the sumcheck backend (``model compile --backend sumcheck``):
``marketplace.cli.model`` hands a sumcheck folder's verbs to these.

    zkmarket model compile MODEL.onnx OUTDIR --backend sumcheck [--calibration X.npy] [--bits A W]
    zkmarket model setup OUTDIR [--ptau P] [--max-batch N]     the one-time weight commitment
    zkmarket model prove OUTDIR INPUTS.npy PROOF.json PUBLIC.json   a batch of inputs, one proof
    zkmarket model verify OUTDIR PROOF.json PUBLIC.json

The proof (``prover.sumcheck.proof_file``) states that the outputs in PUBLIC.json are the
committed model's on its inputs, bit for bit as the integer executor computes them. PUBLIC.json
holds the quantized inputs and outputs in the clear (hiding commitments are a later step of
the backend) and names the model by both commitments. Verification is off-chain.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from marketplace.cli.options import load_array, steps
from marketplace.setup import sumcheck_folder as folder_format
from marketplace.setup.model_folder import ModelFolderError
from prover.errors import FormatError, VerificationError, ZkmarketError

PUBLIC_FORMAT = "zkmarket-sumcheck-public"
PUBLIC_VERSION = 1
# a public file of the largest batch this backend takes is a few MB
MAX_PUBLIC_BYTES = 64 << 20


def compile_sumcheck(model, outdir: Path) -> dict:
    info = folder_format.compile_folder(model, outdir)
    print(f"model commitment: {int(info['model_commitment'], 16)}")
    print(f"backend: sumcheck  parameters: {info['parameters']}")
    return info


def run_setup(args: argparse.Namespace) -> int:
    from marketplace.store import sha256_file
    from prover.formats.ptau import read_ptau

    outdir = Path(args.outdir)
    model = folder_format.load(outdir)
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
            info = folder_format.setup_folder(outdir, ptau, digest, args.max_batch)
        except ValueError as exc:
            raise ZkmarketError(f"{exc} (batches of up to {args.max_batch} need 2^{power})") from None
    print(f"committed {len(info['setup']['weight_commitments'])} weight tables with 2^{power} powers of tau")
    return 0


def _batch(model, path: str) -> np.ndarray:
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


def _set_up(model, outdir: Path):
    if model.info.get("setup") is None:
        raise ModelFolderError(f"{outdir} has no commitment key yet: run zkmarket model setup {outdir} first")


def run_prove(args: argparse.Namespace) -> int:
    from prover.onnx import executor
    from prover.sumcheck.inference import prove_inference, verify_inference
    from prover.sumcheck.proof_file import write_proof

    outdir = Path(args.outdir)
    model = folder_format.load(outdir)
    _set_up(model, outdir)
    graph = model.graph
    assert graph is not None and model.key is not None and model.weights is not None
    x = executor.quantize_input(graph, _batch(model, args.input))
    executor.execute(graph, x)  # names the tensor that overflows, before any proving
    with steps("model prove (sumcheck)", ["prove", "check", "write"]) as step:
        step("prove")
        outputs, proof = prove_inference(model.key, graph, x, model.weights)
        step("check")  # a proof from a folder whose weights differ from its registration fails here
        verify_inference(model.key.verifier, model.architecture, model.weights, x, outputs, proof)
        step("write")
        write_proof(proof, args.proof)
        write_public(args.public, model.info, x, outputs)
    print(f"proved {len(x)} inference(s): labels {[int(v) for v in np.argmax(outputs, axis=-1)]}")
    return 0


def write_public(path, info: dict, inputs: np.ndarray, outputs: np.ndarray) -> None:
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
        },
    )


def read_public(path) -> dict:
    """PUBLIC.json of a sumcheck proof, its inputs and outputs as int64 arrays; FormatError
    for anything else."""
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
    return data


def run_verify(args: argparse.Namespace) -> int:
    from prover.sumcheck.inference import verify_inference
    from prover.sumcheck.proof_file import read_proof

    outdir = Path(args.outdir)
    model = folder_format.load(outdir, prover=False)
    _set_up(model, outdir)
    public = read_public(args.public)
    for name in ("model_commitment", "architecture_hash"):
        if public.get(name) != model.info[name]:
            raise VerificationError(f"{args.public} is about another model ({name} {public.get(name)!r})")
    proof = read_proof(args.proof)
    assert model.verifier_key is not None and model.weights is not None
    try:
        verify_inference(
            model.verifier_key, model.architecture, model.weights, public["inputs"], public["outputs"], proof
        )
    except VerificationError as exc:
        raise VerificationError(
            f"invalid proof: {args.proof} does not prove the outputs in {args.public} for the model in {outdir} ({exc})"
        ) from exc
    print("OK")
    print(f"inferences: {len(public['inputs'])}  labels: {[int(v) for v in np.argmax(public['outputs'], axis=-1)]}")
    return 0

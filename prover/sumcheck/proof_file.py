"""The sumcheck backend's inference proof as a file: JSON, every value typed, read back strictly.

    {"format": "zkmarket-sumcheck-proof", "version": 2, "proof": <InferenceProof>}

A proof object is ``{"type": NAME, FIELD: value, ...}`` for each dataclass of the proof (the
names in ``TYPES``, the fields as declared). A tuple is a JSON list, a field element a hex
string (``0x...``), and a G1 point ``{"g1": [x, y]}`` with hex coordinates (canonical affine,
the point at infinity as two zeros). The reader takes nothing on trust: an unknown type, a
missing or extra field, a value of the wrong kind, a number outside the field, a coordinate
outside the base field, a file over ``MAX_BYTES`` or nesting deeper than any proof has is a
``ProofFileError`` that says what is wrong. That the points are on the curve, and that the
proof's shape fits the model, is the verifier's check.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from prover.errors import FormatError
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.formats.binfile import atomic_output
from prover.sumcheck.batch_opening import BatchOpeningProof
from prover.sumcheck.commitment import EvaluationProof
from prover.sumcheck.inference import InferenceProof
from prover.sumcheck.lookup import FractionLayer, FractionTreeProof, LookupProof
from prover.sumcheck.protocol import SumcheckProof

FORMAT = "zkmarket-sumcheck-proof"
VERSION = 3  # 2: every lookup of a proof in one batch; 3: hiding commitments, a masked batch opening
# a proof of the largest model this backend targets is a few MB; a file far larger is refused
MAX_BYTES = 256 << 20
MAX_DEPTH = 16
TYPES = {
    cls.__name__: cls
    for cls in (
        InferenceProof,
        SumcheckProof,
        LookupProof,
        FractionTreeProof,
        FractionLayer,
        BatchOpeningProof,
        EvaluationProof,
    )
}


class ProofFileError(FormatError):
    """A proof file is not a well-formed sumcheck proof."""


def _encode(item):
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        if type(item).__name__ not in TYPES:
            raise TypeError(f"no file form for {type(item).__name__}")
        return {
            "type": type(item).__name__,
            **{f.name: _encode(getattr(item, f.name)) for f in dataclasses.fields(item)},
        }
    if isinstance(item, np.ndarray):
        if item.shape != (2, 4):
            raise TypeError(f"only G1 points (2, 4) are arrays of a proof, got shape {item.shape}")
        return {"g1": [hex(v) for v in limbs_to_ints(item)]}
    if isinstance(item, (tuple, list)):
        return [_encode(x) for x in item]
    if isinstance(item, int) and not isinstance(item, bool):
        return hex(item)
    if item is None:
        return None
    raise TypeError(f"no file form for {type(item).__name__}")


def write_proof(proof: InferenceProof, path: str | Path) -> None:
    """Write ``proof`` to ``path`` atomically."""
    with atomic_output(path, "w") as out:
        json.dump({"format": FORMAT, "version": VERSION, "proof": _encode(proof)}, out, separators=(",", ":"))


def _number(text, where: str, modulus: int) -> int:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise ProofFileError(f"{where}: expected a hex number (0x...), got {type(text).__name__}")
    try:
        value = int(text, 16)
    except ValueError:
        raise ProofFileError(f"{where}: {text[:40]!r} is not a hex number") from None
    if not 0 <= value < modulus:
        raise ProofFileError(f"{where}: {text[:40]} is not below the field modulus")
    return value


def _decode(item, where: str, depth: int = 0):
    if depth > MAX_DEPTH:
        raise ProofFileError(f"{where}: nested deeper than any proof")
    if isinstance(item, str):
        return _number(item, where, FR_MODULUS)
    if isinstance(item, list):
        return tuple(_decode(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(item))
    if item is None:
        return None
    if isinstance(item, dict) and set(item) == {"g1"}:
        coordinates = item["g1"]
        if not isinstance(coordinates, list) or len(coordinates) != 2:
            raise ProofFileError(f"{where}: a G1 point is two coordinates")
        values = [_number(c, f"{where}.g1[{i}]", FQ_MODULUS) for i, c in enumerate(coordinates)]
        return ints_to_limbs(values).reshape(2, 4)
    if isinstance(item, dict) and isinstance(item.get("type"), str):
        cls = TYPES.get(item["type"])
        if cls is None:
            raise ProofFileError(f"{where}: unknown proof part {item['type'][:40]!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        if set(item) != {"type", *names}:
            raise ProofFileError(f"{where}: a {cls.__name__} has the fields {', '.join(names)}")
        return cls(**{n: _decode(item[n], f"{where}.{n}", depth + 1) for n in names})
    raise ProofFileError(f"{where}: {type(item).__name__} is not a part of a proof")


def read_proof(path: str | Path) -> InferenceProof:
    """The proof in ``path``; ProofFileError (what is wrong, where) for anything else."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ProofFileError(f"{path}: no such proof file") from None
    if size > MAX_BYTES:
        raise ProofFileError(f"{path} holds {size:,} bytes, more than any proof ({MAX_BYTES:,}): not a proof file")
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProofFileError(f"{path} is not a JSON proof file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProofFileError(f"{path} is not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise ProofFileError(f"{path} has version {data.get('version')!r}; this zkmarket reads version {VERSION}")
    proof = _decode(data.get("proof"), "proof")
    if not isinstance(proof, InferenceProof):
        raise ProofFileError(f"{path}: the proof is not an inference proof")
    return proof

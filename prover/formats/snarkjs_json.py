"""snarkjs's JSON files for Groth16: verification_key.json, proof.json, public.json, and the
Solidity calldata string of ``snarkjs zkey export soliditycalldata``.

Shapes (all numbers as decimal strings):

- a G1 point is projective ``[x, y, "1"]`` (infinity ``["0", "1", "0"]``);
- a G2 point is ``[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]``, real part first (the kernels'
  order); infinity ``[["0", "0"], ["1", "0"], ["0", "0"]]``;
- verification_key.json: protocol "groth16", curve "bn128", nPublic, vk_alpha_1, vk_beta_2,
  vk_gamma_2, vk_delta_2, vk_alphabeta_12, IC;
- proof.json: pi_a, pi_b, pi_c, protocol, curve; public.json: the list of public signals.

``vk_alphabeta_12`` is snarkjs's pairing ``e(alpha1, beta2)`` in its Fp2 -> Fp6 -> Fp12 tower.
snarkjs's final exponentiation computes the py_ecc pairing raised to ``2u(6u^2 + 3u + 1)``
(u the BN parameter), so that power is applied here to match it.

Calldata orders each G2 coordinate (imaginary, real), the reverse of the JSON and of py_ecc,
because the EVM pairing precompile takes it that way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from prover.errors import FormatError
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.formats.binfile import atomic_output
from prover.groth16.keys import Proof, VerifyingKey

BN_U = 4965661367192848881  # the BN254 curve parameter
SNARKJS_GT_POWER = 2 * BN_U * (6 * BN_U * BN_U + 3 * BN_U + 1)
# a Fp2 element a + b*u is w-coefficient form (a - 9b) + b*w^6 in py_ecc's FQ12 (u = w^6 - 9)
XI_REAL = 9


# --- points <-> JSON --------------------------------------------------------------------------


def _g1_json(point: np.ndarray) -> list[str]:
    x, y = limbs_to_ints(point.reshape(2, 4))
    return ["0", "1", "0"] if x == y == 0 else [str(x), str(y), "1"]


def _g2_json(point: np.ndarray) -> list:
    x0, x1, y0, y1 = limbs_to_ints(point.reshape(4, 4))
    if x0 == x1 == y0 == y1 == 0:
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    return [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]]


def _number(value, what: str, modulus: int, where: str) -> int:
    """A JSON decimal string (or integer, or 0x-prefixed hex string, as snarkjs also reads them)
    below ``modulus``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FormatError(f"{where}: {what} is {json.dumps(value)}, not a number")
    if isinstance(value, str):
        digits, base = (value[2:], 16) if value[:2] in ("0x", "0X") else (value, 10)
        allowed = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        if not digits or any(ch not in allowed for ch in digits):
            raise FormatError(f"{where}: {what} is {json.dumps(value)}, not a decimal number")
        value = int(digits, base)
    if not 0 <= value < modulus:
        field = "scalar field r" if modulus == FR_MODULUS else "base field q"
        raise FormatError(f"{where}: {what} is not below the {field}: it is not a valid field element")
    return value


def _shape(value, shape: list, what: str, where: str):
    if not isinstance(value, list) or len(value) not in shape:
        raise FormatError(f"{where}: {what} must be a list of {' or '.join(map(str, shape))} items")
    return value


def _g1_from_json(value, what: str, where: str) -> np.ndarray:
    x, y, z = (_number(v, what, FQ_MODULUS, where) for v in _shape(value, [3], what, where))
    if z == 0:
        return np.zeros((2, 4), dtype=np.uint64)
    if z != 1:
        raise FormatError(f"{where}: {what} is not in affine form (third coordinate {z}, expected 1)")
    from prover.kernels import reference  # py_ecc: imported by readers only, not by `groth16 prove`

    point = ints_to_limbs([x, y])
    try:
        reference.g1_from_array(point)
    except ValueError as exc:
        raise FormatError(f"{where}: {what} is not a point on the BN254 curve") from exc
    return point


def _g2_from_json(value, what: str, where: str) -> np.ndarray:
    coords = [
        [_number(v, what, FQ_MODULUS, where) for v in _shape(c, [2], what, where)]
        for c in _shape(value, [3], what, where)
    ]
    if coords[2] == [0, 0]:
        return np.zeros((2, 2, 4), dtype=np.uint64)
    if coords[2] != [1, 0]:
        raise FormatError(f"{where}: {what} is not in affine form (third coordinate must be [1, 0])")
    from prover.kernels import reference

    point = ints_to_limbs([*coords[0], *coords[1]]).reshape(2, 2, 4)
    try:
        reference.g2_from_array(point)
    except ValueError as exc:
        raise FormatError(f"{where}: {what} is not a point on the BN254 twist curve") from exc
    return point


# --- files ------------------------------------------------------------------------------------


def _write_json(obj, path: str | os.PathLike) -> None:
    # snarkjs writes with a one-space indent; keep the same look
    with atomic_output(path, "w") as out:
        out.write(json.dumps(obj, indent=1))


def _read_json(path: str | os.PathLike, what: str):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read the {what} ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}): expected a snarkjs {what}"
        ) from exc


def _check_protocol(obj: dict, where: str, what: str) -> None:
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: expected a JSON object (a snarkjs {what})")
    if obj.get("protocol", "groth16") != "groth16" or obj.get("curve", "bn128") != "bn128":
        raise FormatError(
            f"{where}: this {what} is for protocol {obj.get('protocol')!r} on curve "
            f"{obj.get('curve')!r}; only groth16 on bn128 is supported"
        )


def _field(obj: dict, key: str, where: str):
    if key not in obj:
        raise FormatError(f"{where}: the field {key!r} is missing")
    return obj[key]


def alphabeta_12(alpha1: np.ndarray, beta2: np.ndarray) -> list:
    """``e(alpha1, beta2)`` as snarkjs's verification key holds it (see the module docstring)."""
    from py_ecc import optimized_bn128 as bn

    from prover.kernels import reference

    value = bn.pairing(reference.g2_from_array(beta2), reference.g1_from_array(alpha1)) ** SNARKJS_GT_POWER
    c = [int(v) for v in value.coeffs]
    tower = []
    for odd in (0, 1):  # Fp12 = Fp6 + Fp6 w: even powers of w, then odd ones
        fp6 = []
        for j in range(3):  # Fp6 = Fp2 + Fp2 v + Fp2 v^2 with v = w^2
            k = 2 * j + odd
            imag = c[k + 6]
            fp6.append([str((c[k] + XI_REAL * imag) % FQ_MODULUS), str(imag)])
        tower.append(fp6)
    return tower


def verification_key_json(vk: VerifyingKey) -> dict:
    return {
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.n_public,
        "vk_alpha_1": _g1_json(vk.alpha1),
        "vk_beta_2": _g2_json(vk.beta2),
        "vk_gamma_2": _g2_json(vk.gamma2),
        "vk_delta_2": _g2_json(vk.delta2),
        "vk_alphabeta_12": alphabeta_12(vk.alpha1, vk.beta2),
        "IC": [_g1_json(p) for p in vk.ic],
    }


def write_verification_key(vk: VerifyingKey, path: str | os.PathLike) -> None:
    _write_json(verification_key_json(vk), path)


def read_verification_key(path: str | os.PathLike) -> VerifyingKey:
    """Read a snarkjs verification_key.json; every point must be on its curve. (vk_alphabeta_12
    is derived data and not needed to verify, so it is not read.)"""
    obj = _read_json(path, "verification key")
    where = str(path)
    _check_protocol(obj, where, "verification key")
    ic = _field(obj, "IC", where)
    if not isinstance(ic, list) or not ic:
        raise FormatError(f"{where}: IC must be a non-empty list of G1 points")
    n_public = obj.get("nPublic", len(ic) - 1)
    if n_public != len(ic) - 1:
        raise FormatError(f"{where}: nPublic is {n_public} but IC has {len(ic)} points (expected nPublic + 1)")
    return VerifyingKey(
        alpha1=_g1_from_json(_field(obj, "vk_alpha_1", where), "vk_alpha_1", where),
        beta2=_g2_from_json(_field(obj, "vk_beta_2", where), "vk_beta_2", where),
        gamma2=_g2_from_json(_field(obj, "vk_gamma_2", where), "vk_gamma_2", where),
        delta2=_g2_from_json(_field(obj, "vk_delta_2", where), "vk_delta_2", where),
        ic=np.stack([_g1_from_json(p, f"IC[{i}]", where) for i, p in enumerate(ic)]),
    )


def proof_json(proof: Proof) -> dict:
    return {
        "pi_a": _g1_json(proof.a),
        "pi_b": _g2_json(proof.b),
        "pi_c": _g1_json(proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    }


def write_proof(proof: Proof, path: str | os.PathLike) -> None:
    _write_json(proof_json(proof), path)


def read_proof(path: str | os.PathLike) -> Proof:
    """Read a snarkjs proof.json; each of pi_a, pi_b, pi_c must be a point on its curve."""
    obj = _read_json(path, "proof")
    where = str(path)
    _check_protocol(obj, where, "proof")
    return Proof(
        _g1_from_json(_field(obj, "pi_a", where), "pi_a", where),
        _g2_from_json(_field(obj, "pi_b", where), "pi_b", where),
        _g1_from_json(_field(obj, "pi_c", where), "pi_c", where),
    )


def write_public(signals: list[int], path: str | os.PathLike) -> None:
    _write_json([str(int(s)) for s in signals], path)


def read_public(path: str | os.PathLike) -> list[int]:
    """Read public.json: a list of decimal field elements, each below r."""
    obj = _read_json(path, "public signals file")
    where = str(path)
    if not isinstance(obj, list):
        raise FormatError(f"{where}: expected a JSON list of public signals")
    return [_number(v, f"public signal #{i}", FR_MODULUS, where) for i, v in enumerate(obj)]


def solidity_calldata(proof: Proof, public_signals: list[int]) -> str:
    """The arguments of a snarkjs Groth16 verifier's ``verifyProof(a, b, c, input)``, formatted
    exactly as ``snarkjs zkey export soliditycalldata`` prints them."""

    def word(v: int) -> str:
        return f'"0x{v:064x}"'

    ax, ay = limbs_to_ints(proof.a.reshape(2, 4))
    bx0, bx1, by0, by1 = limbs_to_ints(proof.b.reshape(4, 4))
    cx, cy = limbs_to_ints(proof.c.reshape(2, 4))
    inputs = ",".join(word(s) for s in public_signals)
    return (
        f"[{word(ax)}, {word(ay)}],"
        f"[[{word(bx1)}, {word(bx0)}],[{word(by1)}, {word(by0)}]],"
        f"[{word(cx)}, {word(cy)}],"
        f"[{inputs}]"
    )

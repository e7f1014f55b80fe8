"""The embedded chain's pairing precompile (0x08): arkworks' pairing in place of py-evm's py_ecc
one must give the same answer, or the same refusal, on every input: valid products that are and
are not one, infinity on either side, and each kind of malformed record. On-chain, a real
proof's verdicts are the same under both."""

from __future__ import annotations

import importlib

import pytest
from eth_utils import ValidationError
from py_ecc import optimized_bn128 as bn
from support.forgeries import twist_point_outside_g2

from marketplace.chain import connect, native_ecpairing, use_native_pairing
from marketplace.contracts import deploy_verifier
from prover.field import FQ_MODULUS, limbs_to_ints

ECPAIRING = importlib.import_module("eth.precompiles.ecpairing")


def _py_ecc(data: bytes) -> bool:
    use_native_pairing()  # so that the saved original is there, whichever test runs first
    return ECPAIRING._py_ecc_ecpairing(data)


def _word(x: int) -> bytes:
    return x.to_bytes(32, "big")


def _g1(p) -> list[int]:
    if bn.is_inf(p):
        return [0, 0]
    x, y = bn.normalize(p)
    return [int(x), int(y)]


def _g2(q) -> list[int]:
    if bn.is_inf(q):
        return [0, 0, 0, 0]
    x, y = bn.normalize(q)
    return [x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0]]  # EVM order: imaginary first


def _record(g1: list[int], g2: list[int]) -> bytes:
    return b"".join(_word(v) for v in g1 + g2)


def _both(data: bytes):
    """(native, py_ecc) verdicts, each True/False or 'refused'."""
    out = []
    for check in (native_ecpairing, _py_ecc):
        try:
            out.append(check(data))
        except ValidationError:
            out.append("refused")
    return tuple(out)


def test_native_and_py_ecc_pairings_agree_on_every_kind_of_input():
    p, q = bn.multiply(bn.G1, 5), bn.multiply(bn.G2, 7)
    a, b = 11, 13
    one = _record(_g1(bn.multiply(p, a)), _g2(bn.multiply(q, b))) + _record(_g1(bn.neg(bn.multiply(p, a * b))), _g2(q))
    outside = [int(v) for v in limbs_to_ints(twist_point_outside_g2())]  # py_ecc order: real first
    outside_evm = [outside[1], outside[0], outside[3], outside[2]]
    x, y = _g1(p)
    cases = {
        "empty": (b"", True),
        "a product equal to one": (one, True),
        "a product not one": (_record(_g1(p), _g2(q)), False),
        "two pairs, the second changed": (one[:192] + _record(_g1(bn.neg(p)), _g2(q)), False),
        "infinity on the G1 side": (_record([0, 0], _g2(q)), True),
        "infinity on the G2 side": (_record(_g1(p), [0, 0, 0, 0]), True),
        "G1 off the curve": (_record([x, y + 1], _g2(q)), "refused"),
        "G1 coordinate plus q": (_record([x + FQ_MODULUS, y], _g2(q)), "refused"),
        "G2 off the curve": (_record(_g1(p), [*_g2(q)[:3], _g2(q)[3] + 1]), "refused"),
        "G2 coordinate plus q": (_record(_g1(p), [_g2(q)[0] + FQ_MODULUS, *_g2(q)[1:]]), "refused"),
        "G2 on the twist outside the subgroup": (_record(_g1(p), outside_evm), "refused"),
        "G2 with real and imaginary exchanged": (_record(_g1(p), [_g2(q)[1], _g2(q)[0], *_g2(q)[2:]]), "refused"),
    }
    for name, (data, expected) in cases.items():
        assert _both(data) == (expected, expected), name
    with pytest.raises(ValidationError):
        native_ecpairing(one[:-1])


@pytest.mark.slow
def test_a_real_proofs_on_chain_verdicts_are_the_same_with_either_pairing(toy_circuit):
    chain = connect()
    verifier, _ = deploy_verifier(chain, toy_circuit.verifying_key, chain.eth.accounts[0])
    toy = toy_circuit.proof("a", "x1")
    a, b, c = toy.evm
    changed = list(toy.public)
    changed[2] ^= 1
    calls = [(a, b, c, list(toy.public)), (a, b, c, changed), (a, [b[0][::-1], b[1][::-1]], c, list(toy.public))]
    verdicts = {}
    for name, pairing in (("native", native_ecpairing), ("py_ecc", ECPAIRING._py_ecc_ecpairing)):
        ECPAIRING._ecpairing = pairing
        try:
            verdicts[name] = [verifier.functions.verifyProof(*call).call() for call in calls]
        finally:
            use_native_pairing()
    assert verdicts["native"] == verdicts["py_ecc"] == [True, False, False]

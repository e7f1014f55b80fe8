import numpy as np
import pytest

from prover.field import FQ_MODULUS, FR_MODULUS, below_modulus, fr_to_signed, ints_to_limbs, limbs_to_ints, signed_to_fr


def test_int_limb_roundtrip(rng):
    values = [0, 1, FR_MODULUS - 1, 2**64, 2**255 + 7] + [int(x) for x in rng.integers(0, 2**62, 20)]
    assert limbs_to_ints(ints_to_limbs(values)) == values


def test_signed_mapping_matches_python_modulo(rng):
    xs = np.concatenate([rng.integers(-(2**62), 2**62, 200), [0, -1, 1, -(2**63 - 1), 2**63 - 1]])
    limbs = signed_to_fr(xs)
    assert limbs_to_ints(limbs) == [int(x) % FR_MODULUS for x in xs]
    assert (fr_to_signed(limbs) == xs).all()


def test_large_field_element_is_not_a_small_signed_value():
    with pytest.raises(ValueError):
        fr_to_signed(ints_to_limbs([FR_MODULUS // 2]))


@pytest.mark.parametrize("modulus", [FR_MODULUS, FQ_MODULUS])
def test_below_modulus_matches_integer_comparison(rng, modulus):
    # rows that tie with the modulus on the top limb (or more) are the ones the fast path defers
    top = modulus >> 192
    ties = [(top << 192) | (int(x) % (1 << 192)) for x in rng.integers(0, 2**63, 40, dtype=np.uint64)]
    values = [0, 1, modulus - 1, modulus, modulus + 1, 2**256 - 1, (top << 192) - 1, top << 192, *ties]
    values += [modulus - (1 << 64), modulus - (1 << 128) + 5, modulus + (1 << 128)]
    values += [int.from_bytes(rng.bytes(32), "little") for _ in range(50)]
    mask = below_modulus(ints_to_limbs(values), modulus)
    assert mask.tolist() == [v < modulus for v in values]

import numpy as np
import pytest

from prover.field import FR_MODULUS, fr_to_signed, ints_to_limbs, limbs_to_ints, signed_to_fr


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

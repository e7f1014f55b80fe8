"""Poseidon against circomlibjs (an independent implementation with its own constant tables)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from marketplace.npm import REPO_ROOT, run_node_json
from prover import poseidon as P
from prover.field import FR_MODULUS

# circomlibjs's own Poseidon (wasm build) hashing every row it is given, one process per session
NODE_HASHER = """
import { buildPoseidon } from "circomlibjs";
let data = "";
process.stdin.on("data", (c) => { data += c; });
process.stdin.on("end", async () => {
  const poseidon = await buildPoseidon();
  const rows = JSON.parse(data);
  const out = rows.map((r) => poseidon.F.toString(poseidon(r.map(BigInt))));
  process.stdout.write(JSON.stringify(out));
});
"""

ROWS_PER_WIDTH = 4


def _random_rows(seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    rows = []
    for width in range(1, P.MAX_INPUTS + 1):
        for k in range(ROWS_PER_WIDTH):
            # full-size field elements, small signed values mapped x mod r, and edge values
            if k == 0:
                row = [FR_MODULUS - 1 - i for i in range(width)]
            elif k == 1:
                row = [int(v) % FR_MODULUS for v in rng.integers(-128, 128, size=width)]
            else:
                row = [int.from_bytes(rng.bytes(32), "little") % FR_MODULUS for _ in range(width)]
            rows.append(row)
    return rows


@pytest.fixture(scope="session")
def circomlibjs_hashes():
    rows = _random_rows(7)
    hashes = run_node_json(NODE_HASHER, [[str(v) for v in r] for r in rows], timeout=300)
    return rows, [int(v) for v in hashes]


def test_poseidon_matches_circomlibjs_for_every_width(circomlibjs_hashes):
    rows, expected = circomlibjs_hashes
    assert [P.poseidon(r) for r in rows] == expected


def test_batch_matches_single_hashes(circomlibjs_hashes):
    rows, expected = circomlibjs_hashes
    for width in (2, 16):
        sel = [i for i, r in enumerate(rows) if len(r) == width]
        assert P.poseidon_batch([rows[i] for i in sel]) == [expected[i] for i in sel]


def test_poseidon_distinguishes_inputs(circomlibjs_hashes):
    rows, expected = circomlibjs_hashes
    row = rows[-1]
    changed = list(row)
    changed[3] = (changed[3] + 1) % FR_MODULUS
    assert P.poseidon(changed) != P.poseidon(row)
    # inputs are field elements: v and v + r hash alike, and the width is part of the function
    assert P.poseidon([row[0] + FR_MODULUS] + row[1:]) == expected[-1]
    assert P.poseidon(row[:1]) != P.poseidon(row[:1] + [0])


def test_rejects_bad_widths():
    with pytest.raises(ValueError):
        P.poseidon([])
    with pytest.raises(ValueError):
        P.poseidon(list(range(17)))
    with pytest.raises(ValueError):
        P.poseidon_batch([[1, 2], [3]])


def test_grain_constants_are_those_circomlibjs_ships():
    """The regenerated constants equal circomlibjs's tables (read here only to compare), for
    every width."""
    tables = json.loads((REPO_ROOT / "node_modules/circomlibjs/src/poseidon_constants.json").read_text())
    for t in range(2, P.MAX_INPUTS + 2):
        assert list(P.round_constants(t)) == [int(c, 16) for c in tables["C"][t - 2]]
        assert [list(row) for row in P.mds_matrix(t)] == [[int(c, 16) for c in row] for row in tables["M"][t - 2]]


def _grain_bits_one_at_a_time(t: int, n: int) -> list[int]:
    """The parameter script's stream as it is written: an 80-bit list clocked one bit at a
    time (taps 62, 51, 38, 23, 13, 0), 160 bits discarded, then the pair filter."""
    seed = f"{1:02b}{0:04b}{P.FIELD_BITS:012b}{t:012b}{P.FULL_ROUNDS:010b}{P.partial_rounds(t):010b}" + "1" * 30
    register = [int(b) for b in seed]

    def clock() -> int:
        new = register[62] ^ register[51] ^ register[38] ^ register[23] ^ register[13] ^ register[0]
        register.pop(0)
        register.append(new)
        return new

    for _ in range(160):
        clock()
    out: list[int] = []
    while len(out) < n:
        first, second = clock(), clock()
        if first:
            out.append(second)
    return out


@pytest.mark.parametrize("t", [3, 17])
def test_grain_stream_equals_the_bit_at_a_time_register(t):
    """The stream with its register doubled (distances doubled, many bits per shift) gives the
    plain register's bits, across every doubling (the last one comes after about 10,000
    register bits, 48,000 make these 12,000); the twin: a stream of another width differs."""
    n = 12_000
    stream = P.GrainStream(t)
    fast = [int(b) for b in np.concatenate([stream.bits(1), stream.bits(4_999), stream.bits(n - 5_000)])]
    assert stream.width == P.GrainStream.REGISTER << P.GrainStream.DOUBLINGS
    assert fast == _grain_bits_one_at_a_time(t, n)
    assert [int(b) for b in P.GrainStream(t - 1).bits(n)] != fast
    # draws take the bits in order, first bit most significant
    a, b = P.GrainStream(t), P.GrainStream(t)
    bits = [int(v) for v in a.bits(2 * P.FIELD_BITS)]
    assert b.draws(2, P.FIELD_BITS) == [
        int("".join(map(str, bits[i * P.FIELD_BITS : (i + 1) * P.FIELD_BITS])), 2) for i in range(2)
    ]


def test_tree_layout_and_commit_definition():
    assert P.tree_layout(1) == [[1]]
    assert P.tree_layout(16) == [[16]]
    assert P.tree_layout(17) == [[16, 1], [2]]
    assert P.tree_layout(16 * 16 + 3) == [[16] * 16 + [3], [16, 1], [2]]
    values = list(range(1, 40))
    chunks = [P.poseidon(values[0:16]), P.poseidon(values[16:32]), P.poseidon(values[32:])]
    assert P.tree(values) == P.poseidon(chunks)
    assert P.commit(values) == P.poseidon([P.poseidon(chunks), 39])
    # the length is bound: a sequence and the sequence of its chunk hashes differ
    assert P.commit(chunks) != P.commit(values)
    assert P.commit(values + [0]) != P.commit(values)
    with pytest.raises(ValueError):
        P.commit([])

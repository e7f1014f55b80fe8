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
    """The regenerated constants equal circomlibjs's tables (read here only to compare)."""
    tables = json.loads((REPO_ROOT / "node_modules/circomlibjs/src/poseidon_constants.json").read_text())
    for t in (2, 3, 17):
        assert list(P.round_constants(t)) == [int(c, 16) for c in tables["C"][t - 2]]
        assert [list(row) for row in P.mds_matrix(t)] == [[int(c, 16) for c in row] for row in tables["M"][t - 2]]


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

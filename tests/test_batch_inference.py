"""The batched inference statement: N requests proved at once on weights committed once.

Each slot proves what the single statement proves for its request; a short batch is padded by
repeating its last request; a cheating witness (one slot's label, input or weights changed) does
not satisfy the R1CS; and a real proof verifies for exactly its public inputs: one wrong label,
one wrong input commitment or output commitment, another model's commitment or two requests
swapped are refused."""

from __future__ import annotations

import numpy as np
import pytest
from support.models import prove_with_test_key, write_small_model

from marketplace.setup.pipeline import SetupError, quantized_graph, statement_circuit
from prover import poseidon
from prover.circuit import statements as S
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.groth16.verify import verify, verify_reference
from prover.onnx import executor
from prover.onnx.graph import InputShapeError

SALTS = [11, 22, 33]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    path = root / "small.onnx"
    calibration = write_small_model(path)
    graph = quantized_graph(path, calibration).graph
    return graph, executor.quantize_input(graph, calibration[:3])


@pytest.fixture(scope="module")
def batch4(model):
    return S.inference_circuit(model[0], "private", batch=4)


@pytest.fixture(scope="module")
def proved(model, batch4):
    """A real proof (test key) of three requests in a batch of four."""
    graph, xs = model
    result = batch4.batch_witness(xs, SALTS)
    pk, proof, public = prove_with_test_key(batch4.r1cs, result.witness)
    return result, pk.verifying_key(), proof, public


def _single(graph, x, salt):
    return S.inference_circuit(graph, "private").witness(x, salt)


def test_each_slot_proves_the_single_statement_and_the_padding_repeats_the_last(model, batch4):
    graph, xs = model
    result = batch4.batch_witness(xs, SALTS)
    assert batch4.r1cs.is_satisfied(result.witness)
    assert result.n_requests == 3 and batch4.r1cs.n_public_inputs == S.batch_public_input_count(4) == 1 + 4 + 1 + 1
    singles = [_single(graph, x, s) for x, s in zip(xs, SALTS)]
    padded = singles + [singles[-1]]
    assert result.public["model_commitment"] == [S.model_commitment(graph)]
    assert result.public["input_commitment"] == [single.public["input_commitment"] for single in padded]
    assert result.output_commitments == [single.public["output_commitment"] for single in padded]
    # the four output commitments are one public input, their digest
    assert result.public["output_commitment"] == [poseidon.commit(result.output_commitments)]
    assert result.labels == [single.label for single in padded]
    # the four labels are one public input, 16 bits each, the first lowest
    assert result.public["label"] == [sum(single.label << (16 * j) for j, single in enumerate(padded))]
    for slot, single in zip(result.logits, padded):
        np.testing.assert_array_equal(slot, single.logits)
    # wires 1.. are the public inputs in the layout a verifier builds from the requests
    requests = [(s.public["input_commitment"], s.label, s.public["output_commitment"]) for s in singles]
    expected = S.batch_public_inputs(S.model_commitment(graph), requests, 4)
    assert result.public_inputs() == expected
    assert limbs_to_ints(result.witness[1 : 1 + len(expected)]) == expected


def test_batch_one_is_the_single_statement(model):
    graph, xs = model
    one, single = S.inference_circuit(graph, "private", batch=1), S.inference_circuit(graph, "private")
    assert one.r1cs.n_constraints == single.r1cs.n_constraints
    np.testing.assert_array_equal(one.batch_witness(xs[:1], [7]).witness, single.witness(xs[0], 7).witness)


def test_the_weights_are_committed_once(model):
    graph, _ = model
    sizes = {n: S.inference_circuit(graph, "private", batch=n).r1cs.n_constraints for n in (1, 2, 3, 4)}
    per_request = sizes[3] - sizes[2]
    # every request costs the same but for its element of the outputs' digest (a wider hash)
    assert 0 <= (sizes[4] - sizes[3]) - per_request <= 32
    # from two on, the batch also packs the labels and hashes the outputs' digest, once
    assert sizes[2] - sizes[1] > per_request
    assert per_request < sizes[1]  # and less than a single statement: the weights are not in it


def test_a_cheating_witness_does_not_satisfy_the_batch(model, batch4):
    graph, xs = model
    result = batch4.batch_witness(xs, SALTS)
    labels_wire = 1 + 1 + 4  # model, 4 input commitments, then the packed labels
    packed = result.public["label"][0]
    for wire, value in (
        (labels_wire, packed + (1 << 16)),  # slot 1's label one higher
        (labels_wire, packed + (1 << 64)),  # a fifth label where none belongs
        (1 + 1 + 2, result.public["input_commitment"][2] + 1),  # one wrong input commitment
        (1 + 1 + 4 + 1, result.public["output_commitment"][0] + 1),  # another digest of the outputs
        (1, result.public["model_commitment"][0] + 1),  # another model
    ):
        wrong = result.witness.copy()
        wrong[wire] = ints_to_limbs([value % FR_MODULUS])[0]
        assert not batch4.r1cs.is_satisfied(wrong), wire
    # another weight in one slot only is impossible: every slot reads the same weight wires,
    # so changing a weight changes the one model commitment
    inputs = {"input": np.concatenate([xs, xs[-1:]]), "salt": np.array(SALTS + SALTS[-1:], dtype=object)}
    inputs |= {k: v.copy() for k, v in S.weight_inputs(batch4.lowering).items()}
    first = next(iter(inputs.keys() - {"input", "salt"}))
    inputs[first].flat[0] ^= 1
    values = batch4.circuit.run(inputs)
    assert batch4.circuit.public_values(values)["model_commitment"] != result.public["model_commitment"]


def test_a_batch_proof_verifies_for_its_requests_only(model, proved):
    graph, _ = model
    result, vk, proof, public = proved
    assert public == result.public_inputs()
    assert verify(vk, public, proof) and verify_reference(vk, public, proof)
    label_at, input_at = 1 + 4, 1 + 2
    wrong_label = list(public)
    wrong_label[label_at] += 1 << 16  # request 1's label one higher
    wrong_input = list(public)
    wrong_input[input_at] += 1
    other_model = list(public)
    other_model[0] = (other_model[0] + 1) % FR_MODULUS
    requests = list(zip(result.public["input_commitment"], result.labels, result.output_commitments))
    assert S.batch_public_inputs(public[0], requests, 4) == public
    # requests 0 and 1 trade places, each request's triple kept whole
    swapped = S.batch_public_inputs(public[0], [requests[1], requests[0], *requests[2:]], 4)
    assert swapped != public
    # one slot's output commitment changed: another digest
    (i0, l0, o0), rest = requests[0], requests[1:]
    wrong_output = S.batch_public_inputs(public[0], [(i0, l0, (o0 + 1) % FR_MODULUS), *rest], 4)
    for forged in (wrong_label, wrong_input, other_model, swapped, wrong_output, public[:-1]):
        assert not verify(vk, forged, proof)
    assert not verify_reference(vk, wrong_label, proof)


def test_labels_pack_fifteen_to_an_element_and_one_to_itself():
    assert S.pack_labels([7]) == [7]
    assert S.pack_labels([1, 2]) == [1 + (2 << 16)]
    assert S.pack_labels(range(16)) == [sum(j << (16 * j) for j in range(15)), 15]
    assert [S.batch_public_input_count(n) for n in (1, 8, 15, 16, 32, 64)] == [4, 11, 18, 20, 37, 71]
    with pytest.raises(ValueError, match="2\\^16"):
        S.pack_labels([1 << 16])
    with pytest.raises(ValueError, match="2\\^16"):
        S.pack_labels([-1])


def test_bad_batches_are_refused_with_what_to_do(model, batch4):
    graph, xs = model
    five = np.concatenate([xs, xs[:2]])
    with pytest.raises(InputShapeError, match="takes 1..4"):
        batch4.batch_witness(five, list(range(5)))
    with pytest.raises(InputShapeError, match="takes 1..4"):
        batch4.batch_witness(xs, SALTS[:2])
    with pytest.raises(InputShapeError, match="takes 1..4"):
        batch4.batch_witness(xs[:0], [])
    with pytest.raises(InputShapeError, match="batch expects"):
        batch4.batch_witness(xs[:, :-1], SALTS)
    with pytest.raises(ValueError, match="field element"):
        batch4.batch_witness(xs, [1, 2, FR_MODULUS])
    with pytest.raises(InputShapeError, match="batch_witness"):
        batch4.witness(xs[0], 1)
    with pytest.raises(ValueError, match="1..64"):
        S.inference_circuit(graph, "private", batch=S.MAX_BATCH + 1)
    with pytest.raises(SetupError, match="at most 64"):
        statement_circuit(graph, "batch", S.MAX_BATCH + 1)
    with pytest.raises(ValueError, match="settles 1..4"):
        S.batch_public_inputs(1, [(1, 2, 3)] * 5, 4)
    assert statement_circuit(graph, "batch", 4).r1cs.n_constraints == batch4.r1cs.n_constraints


@pytest.mark.slow
def test_a_batch_key_is_set_up_through_the_ceremony_flow_and_reused(model, tmp_path):
    from marketplace.agents.consumer import Consumer
    from marketplace.chain import connect
    from marketplace.contracts import Market
    from marketplace.setup.pipeline import prepare_model, prepare_statement
    from prover.groth16.prove import prove

    graph, xs = model
    path = tmp_path / "small.onnx"
    calibration = write_small_model(path)
    w3 = connect()
    market = Market.deploy(w3, w3.eth.accounts[0])
    consumer = Consumer(market, w3.eth.accounts[2], state_dir=tmp_path / "consumer", log=lambda m: None)
    quiet = {"progress": False, "log": lambda m: None}
    served = prepare_model(path, phase1="known-secret", calibration=calibration, cache_dir=tmp_path / "cache", **quiet)
    setup = {"participants": [consumer], "phase1": "known-secret", "cache_dir": tmp_path / "cache"}
    key = prepare_statement(served, "batch", 2, **setup, **quiet)
    assert (key.kind, key.size) == ("batch", 2)
    assert [c["name"] for c in key.proving_key.mpc_params["contributions"]] == [consumer.name]
    reused = []
    again = prepare_statement(served, "batch", 2, **setup, progress=False, log=reused.append)
    assert again.path == key.path and "reused" in reused[0]
    circuit = statement_circuit(served.graph, "batch", 2)
    result = circuit.batch_witness(xs[:2], SALTS[:2])
    proof, public = prove(key.proving_key, result.witness, r1cs=circuit.r1cs)
    vk = key.proving_key.verifying_key()
    assert public == result.public_inputs() and verify(vk, public, proof)
    # the inference key does not verify a batch proof (another circuit, another key)
    assert not verify(served.proving_key.verifying_key(), public[:4], proof)

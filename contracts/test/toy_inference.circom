pragma circom 2.1.0;

// Test-only circuit with the inference statement's public signals, in statement order:
// (model commitment, input commitment, label, output commitment). A 2x2 linear layer with
// Poseidon commitments and an argmax over two logits: small enough for a quick snarkjs setup,
// real enough that every public signal is bound by constraints.

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";

template ToyInference() {
    signal input weights[2][2];   // the model's private weights (non-negative, < 2^32)
    signal input x[2];            // the consumer's private input (non-negative, < 2^32)
    signal input salt;            // blinds the input commitment

    signal output modelCommitment;
    signal output inputCommitment;
    signal output label;
    signal output outputCommitment;

    component modelHash = Poseidon(4);
    for (var i = 0; i < 2; i++) {
        for (var j = 0; j < 2; j++) {
            modelHash.inputs[2 * i + j] <== weights[i][j];
        }
    }
    modelCommitment <== modelHash.out;

    component inputHash = Poseidon(3);
    inputHash.inputs[0] <== x[0];
    inputHash.inputs[1] <== x[1];
    inputHash.inputs[2] <== salt;
    inputCommitment <== inputHash.out;

    signal products[2][2];
    signal logits[2];
    for (var i = 0; i < 2; i++) {
        products[i][0] <== weights[i][0] * x[0];
        products[i][1] <== weights[i][1] * x[1];
        logits[i] <== products[i][0] + products[i][1];
    }

    component outputHash = Poseidon(2);
    outputHash.inputs[0] <== logits[0];
    outputHash.inputs[1] <== logits[1];
    outputCommitment <== outputHash.out;

    // label = 1 exactly when logit 1 beats logit 0 (ties go to class 0)
    component beats = LessThan(66);
    beats.in[0] <== logits[0];
    beats.in[1] <== logits[1];
    label <== beats.out;
}

component main = ToyInference();

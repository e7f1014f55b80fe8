pragma circom 2.0.0;

include "circomlib/circuits/poseidon.circom";

// Knowledge of a Poseidon preimage (x, salt) whose hash is public, bound to a public tag.
template PoseidonPreimage() {
    signal input x;
    signal input salt;
    signal input tag;
    signal output hash;
    signal tagSquared;

    component h = Poseidon(2);
    h.inputs[0] <== x;
    h.inputs[1] <== salt;
    hash <== h.out;
    tagSquared <== tag * tag;
}

component main {public [tag]} = PoseidonPreimage();

pragma circom 2.0.0;

// c = a * b with a public factor: the smallest circuit with an output, a public and a private input.
template Multiplier() {
    signal input a;
    signal input b;
    signal output c;
    signal ab2;
    ab2 <== a * a;
    c <== ab2 * b + a;
}

component main {public [a]} = Multiplier();

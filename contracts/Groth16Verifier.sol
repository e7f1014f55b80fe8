// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SCALAR_FIELD as BN254_SCALAR_FIELD} from "./Common.sol";
import {BASE_FIELD as BN254_BASE_FIELD, BN254, InvalidVerifyingKey, VerifyingKey} from "./BN254.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";

/// @title Groth16 verifier over BN254 for statements with four public inputs
/// @author zkml-market
/// @notice One compiled contract serves every circuit: the verifying key is passed to the
/// constructor and kept as immutables (in the deployed code), so registering a model needs no
/// compiler and a verification reads no storage. The calling convention is snarkjs's:
/// G2 coordinates as (imaginary, real), public inputs in wire order.
/// @dev Checks e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1 with
/// vk_x = IC0 + sum(pub[i] * IC[i+1]), using the ecAdd (0x06), ecMul (0x07) and pairing (0x08)
/// precompiles.
contract Groth16Verifier is IGroth16Verifier {
    /// @notice BN254 scalar field order: every public input must be below it (Common.sol's).
    uint256 public constant SCALAR_FIELD = BN254_SCALAR_FIELD;
    /// @notice BN254 base field order: every proof coordinate must be below it (BN254.sol's).
    uint256 public constant BASE_FIELD = BN254_BASE_FIELD;
    /// @notice Number of public inputs of the statement this verifier checks.
    uint256 public constant N_PUBLIC = 4;

    uint256 private immutable ALPHA_X;
    uint256 private immutable ALPHA_Y;
    uint256 private immutable BETA_X_IM;
    uint256 private immutable BETA_X_RE;
    uint256 private immutable BETA_Y_IM;
    uint256 private immutable BETA_Y_RE;
    uint256 private immutable GAMMA_X_IM;
    uint256 private immutable GAMMA_X_RE;
    uint256 private immutable GAMMA_Y_IM;
    uint256 private immutable GAMMA_Y_RE;
    uint256 private immutable DELTA_X_IM;
    uint256 private immutable DELTA_X_RE;
    uint256 private immutable DELTA_Y_IM;
    uint256 private immutable DELTA_Y_RE;
    uint256 private immutable IC0_X;
    uint256 private immutable IC0_Y;
    uint256 private immutable IC1_X;
    uint256 private immutable IC1_Y;
    uint256 private immutable IC2_X;
    uint256 private immutable IC2_Y;
    uint256 private immutable IC3_X;
    uint256 private immutable IC3_Y;
    uint256 private immutable IC4_X;
    uint256 private immutable IC4_Y;

    /// @notice Deploy a verifier for one circuit's verifying key.
    /// @param vk the key, whose IC holds exactly N_PUBLIC + 1 points
    constructor(VerifyingKey memory vk) {
        // a bad key would make every proof fail (or worse): refuse it at deployment
        BN254.requireValidKey(vk);
        if (vk.ic.length != N_PUBLIC + 1) revert InvalidVerifyingKey();
        (uint256[2] memory alpha1, uint256[2][] memory ic) = (vk.alpha1, vk.ic);
        (uint256[2][2] memory beta2, uint256[2][2] memory gamma2, uint256[2][2] memory delta2) = (
            vk.beta2,
            vk.gamma2,
            vk.delta2
        );
        (ALPHA_X, ALPHA_Y) = (alpha1[0], alpha1[1]);
        (BETA_X_IM, BETA_X_RE, BETA_Y_IM, BETA_Y_RE) = (beta2[0][0], beta2[0][1], beta2[1][0], beta2[1][1]);
        (GAMMA_X_IM, GAMMA_X_RE, GAMMA_Y_IM, GAMMA_Y_RE) = (gamma2[0][0], gamma2[0][1], gamma2[1][0], gamma2[1][1]);
        (DELTA_X_IM, DELTA_X_RE, DELTA_Y_IM, DELTA_Y_RE) = (delta2[0][0], delta2[0][1], delta2[1][0], delta2[1][1]);
        (IC0_X, IC0_Y, IC1_X, IC1_Y) = (ic[0][0], ic[0][1], ic[1][0], ic[1][1]);
        (IC2_X, IC2_Y, IC3_X, IC3_Y) = (ic[2][0], ic[2][1], ic[3][0], ic[3][1]);
        (IC4_X, IC4_Y) = (ic[4][0], ic[4][1]);
    }

    /// @notice Check a Groth16 proof against this verifier's key.
    /// @param a proof point A (G1)
    /// @param b proof point B (G2) as [[x_im, x_re], [y_im, y_re]]
    /// @param c proof point C (G1)
    /// @param pubSignals the public inputs, each below SCALAR_FIELD
    /// @return true when the proof is valid; false for an invalid proof or out-of-range input
    /// (never reverts on bad input)
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[4] calldata pubSignals
    ) external view returns (bool) {
        // x and x + r act identically in ecMul: without this check a proof would verify for
        // several distinct public inputs
        for (uint256 i = 0; i < 4; ++i) {
            if (pubSignals[i] >= SCALAR_FIELD) return false;
        }
        // coordinates >= q would be reduced by our negation of A: refuse them before it
        if (a[0] >= BASE_FIELD || a[1] >= BASE_FIELD || c[0] >= BASE_FIELD || c[1] >= BASE_FIELD) return false;
        if (b[0][0] >= BASE_FIELD || b[0][1] >= BASE_FIELD || b[1][0] >= BASE_FIELD || b[1][1] >= BASE_FIELD) {
            return false;
        }

        // the pairing input: (-A, B), (alpha, beta), (vk_x, gamma), (C, delta), 6 words a pair;
        // vk_x is accumulated in place (words 12-13), using words 14-16 as ecMul scratch
        // before gamma is written there
        uint256[24] memory input;
        uint256 ptr;
        assembly ("memory-safe") {
            ptr := input
        }
        _put2(ptr, 12, IC0_X, IC0_Y);
        bool ok = _mulAdd(ptr, IC1_X, IC1_Y, pubSignals[0]) && _mulAdd(ptr, IC2_X, IC2_Y, pubSignals[1])
            && _mulAdd(ptr, IC3_X, IC3_Y, pubSignals[2]) && _mulAdd(ptr, IC4_X, IC4_Y, pubSignals[3]);
        if (!ok) return false;
        _put2(ptr, 0, a[0], a[1] == 0 ? 0 : BASE_FIELD - a[1]);
        _put4(ptr, 2, b[0][0], b[0][1], b[1][0], b[1][1]);
        _put2(ptr, 6, ALPHA_X, ALPHA_Y);
        _put4(ptr, 8, BETA_X_IM, BETA_X_RE, BETA_Y_IM, BETA_Y_RE);
        _put4(ptr, 14, GAMMA_X_IM, GAMMA_X_RE, GAMMA_Y_IM, GAMMA_Y_RE);
        _put2(ptr, 18, c[0], c[1]);
        _put4(ptr, 20, DELTA_X_IM, DELTA_X_RE, DELTA_Y_IM, DELTA_Y_RE);

        bool valid;
        assembly ("memory-safe") {
            let success := staticcall(gas(), 0x08, ptr, 768, ptr, 0x20)
            valid := and(success, eq(mload(ptr), 1))
        }
        return valid;
    }

    /// @dev Add s * (x, y) to the point at words 12-13 of the buffer at ptr; false when a
    /// precompile fails (a point off the curve).
    function _mulAdd(uint256 ptr, uint256 x, uint256 y, uint256 s) private view returns (bool ok) {
        assembly ("memory-safe") {
            let term := add(ptr, 0x1c0)
            mstore(term, x)
            mstore(add(term, 0x20), y)
            mstore(add(term, 0x40), s)
            ok := staticcall(gas(), 0x07, term, 0x60, term, 0x40)
            let acc := add(ptr, 0x180)
            ok := and(ok, staticcall(gas(), 0x06, acc, 0x80, acc, 0x40))
        }
    }

    /// @dev Two words at word index i of the buffer at ptr (no bounds check: callers pass
    /// constant indices inside the 24-word pairing input).
    function _put2(uint256 ptr, uint256 i, uint256 w0, uint256 w1) private pure {
        assembly ("memory-safe") {
            let at := add(ptr, shl(5, i))
            mstore(at, w0)
            mstore(add(at, 0x20), w1)
        }
    }

    /// @dev Four words at word index i of the buffer at ptr.
    function _put4(uint256 ptr, uint256 i, uint256 w0, uint256 w1, uint256 w2, uint256 w3) private pure {
        _put2(ptr, i, w0, w1);
        _put2(ptr, i + 2, w2, w3);
    }
}

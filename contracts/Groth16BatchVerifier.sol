// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SCALAR_FIELD as BN254_SCALAR_FIELD} from "./Common.sol";
import {BASE_FIELD as BN254_BASE_FIELD, BN254, VerifyingKey} from "./BN254.sol";
import {IGroth16BatchVerifier} from "./IGroth16BatchVerifier.sol";

/// @title Groth16 verifier over BN254 for statements with any number of public inputs
/// @author zkml-market
/// @notice One compiled contract serves every circuit, as Groth16Verifier does, but the key of a
/// statement with hundreds of public inputs does not fit in immutables: the constructor stores
/// it as the code of a data contract it creates (SSTORE2: reading it costs one cold account
/// access and four EXTCODECOPYs, about 3,000 gas, far less than storage), and keeps that
/// contract's address and the input count as immutables. The calling convention is snarkjs's:
/// G2 coordinates as (imaginary, real), public inputs in wire order.
/// @dev The data contract's code is a STOP byte (so a call into it does nothing) followed by
/// the key words: alpha (2), beta (4), gamma (4), delta (4), then IC[0..n] (2 each).
/// verifyProof checks e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1 with
/// vk_x = IC0 + sum(pub[i] * IC[i+1]); a zero input adds nothing and an input of 1 adds IC[i+1]
/// without an ecMul, which saves the 6,000-gas ecMul (a zero also its ecAdd) per such input
/// (labels are often 0 or 1).
contract Groth16BatchVerifier is IGroth16BatchVerifier {
    /// @notice BN254 scalar field order: every public input must be below it (Common.sol's).
    uint256 public constant SCALAR_FIELD = BN254_SCALAR_FIELD;
    /// @notice BN254 base field order: every proof coordinate must be below it (BN254.sol's).
    uint256 public constant BASE_FIELD = BN254_BASE_FIELD;

    /// @notice The data contract could not be created (its code would exceed the 24,576-byte
    /// limit: the key has too many public inputs).
    /// @param publicInputs the key's number of public inputs
    error KeyTooLarge(uint256 publicInputs);

    // offsets in the data contract's code (after the STOP byte) of the key's parts
    uint256 private constant ALPHA_BETA_AT = 1;
    uint256 private constant GAMMA_AT = 1 + 6 * 32;
    uint256 private constant DELTA_AT = 1 + 10 * 32;
    uint256 private constant IC_AT = 1 + 14 * 32;

    /// @dev the data contract holding the key
    address private immutable KEY_DATA;
    /// @dev the number of public inputs
    uint256 private immutable N;

    /// @notice Deploy a verifier for one circuit's verifying key, of any number of public inputs
    /// (at least one).
    /// @param vk the key
    constructor(VerifyingKey memory vk) {
        // a bad key would make every proof fail (or worse): refuse it at deployment
        BN254.requireValidKey(vk);
        uint256[2][] memory ic = vk.ic;
        uint256[] memory key = new uint256[](14 + 2 * ic.length);
        (key[0], key[1]) = (vk.alpha1[0], vk.alpha1[1]);
        _putG2(key, 2, vk.beta2);
        _putG2(key, 6, vk.gamma2);
        _putG2(key, 10, vk.delta2);
        for (uint256 i = 0; i < ic.length; ++i) {
            (key[14 + 2 * i], key[15 + 2 * i]) = (ic[i][0], ic[i][1]);
        }
        // init code: PUSH2 size, DUP1, PUSH1 10, RETURNDATASIZE (0), CODECOPY, RETURNDATASIZE,
        // RETURN: returns the runtime code that follows its 10 bytes, STOP then the key words
        uint256 size = 1 + 32 * key.length;
        if (size > type(uint16).max) revert KeyTooLarge(ic.length - 1);
        bytes memory init = abi.encodePacked(hex"61", uint16(size), hex"80600a3d393df3", hex"00", key);
        address data;
        assembly ("memory-safe") {
            data := create(0, add(init, 0x20), mload(init))
        }
        if (data == address(0)) revert KeyTooLarge(ic.length - 1);
        KEY_DATA = data;
        N = ic.length - 1;
    }

    /// @notice The data contract whose code holds this verifier's key (after a STOP byte).
    /// @return its address
    function keyData() external view returns (address) {
        return KEY_DATA;
    }

    /// @inheritdoc IGroth16BatchVerifier
    function publicInputCount() external view returns (uint256) {
        return N;
    }

    /// @inheritdoc IGroth16BatchVerifier
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[] calldata pubSignals
    ) external view returns (bool) {
        uint256 n = N;
        if (pubSignals.length != n) return false;
        // coordinates >= q would be reduced by our negation of A: refuse them before it
        if (a[0] >= BASE_FIELD || a[1] >= BASE_FIELD || c[0] >= BASE_FIELD || c[1] >= BASE_FIELD) return false;
        if (b[0][0] >= BASE_FIELD || b[0][1] >= BASE_FIELD || b[1][0] >= BASE_FIELD || b[1][1] >= BASE_FIELD) {
            return false;
        }
        // the buffer: the pairing input, 24 words (-A, B), (alpha, beta), (vk_x, gamma), (C,
        // delta), 6 a pair, then the key's IC[0..n]
        uint256 p;
        assembly ("memory-safe") {
            p := mload(0x40)
            mstore(0x40, add(p, add(0x300, shl(6, add(n, 1)))))
        }
        address key = KEY_DATA;
        return _vkX(key, p, pubSignals) && _pairing(key, p, a, b, c);
    }

    /// @dev vk_x = IC0 + sum(pubSignals[i] * IC[i+1]) into words 12-13 of the buffer at p, with
    /// words 14-16 as the ecMul scratch (and the ecAdd's second point) before gamma is copied
    /// there; false for an input outside the scalar field or a failed precompile.
    function _vkX(address key, uint256 p, uint256[] calldata pubSignals) private view returns (bool ok) {
        assembly ("memory-safe") {
            let n := pubSignals.length
            let ic := add(p, 0x300)
            extcodecopy(key, ic, IC_AT, shl(6, add(n, 1)))
            let acc := add(p, 0x180)
            let term := add(p, 0x1c0)
            mstore(acc, mload(ic))
            mstore(add(acc, 0x20), mload(add(ic, 0x20)))
            ok := 1
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let s := calldataload(add(pubSignals.offset, shl(5, i)))
                // x and x + r act identically in ecMul: without this check a proof would verify
                // for several distinct public inputs
                if iszero(lt(s, SCALAR_FIELD)) {
                    ok := 0
                    break
                }
                // 0 adds nothing; 1 adds IC[i+1] itself
                if s {
                    let point := add(ic, shl(6, add(i, 1)))
                    mstore(term, mload(point))
                    mstore(add(term, 0x20), mload(add(point, 0x20)))
                    if iszero(eq(s, 1)) {
                        mstore(add(term, 0x40), s)
                        ok := and(ok, staticcall(gas(), 0x07, term, 0x60, term, 0x40))
                    }
                    ok := and(ok, staticcall(gas(), 0x06, acc, 0x80, acc, 0x40))
                }
            }
        }
    }

    /// @dev The rest of the pairing input around vk_x (words 12-13 of the buffer at p), then
    /// e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1.
    function _pairing(
        address key,
        uint256 p,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) private view returns (bool valid) {
        assembly ("memory-safe") {
            mstore(p, calldataload(a))
            // -A: its y is below q (checked by the caller), and -0 is 0
            mstore(add(p, 0x20), mod(sub(BASE_FIELD, calldataload(add(a, 0x20))), BASE_FIELD))
            calldatacopy(add(p, 0x40), b, 0x80)
            extcodecopy(key, add(p, 0xc0), ALPHA_BETA_AT, 0xc0)
            extcodecopy(key, add(p, 0x1c0), GAMMA_AT, 0x80)
            calldatacopy(add(p, 0x240), c, 0x40)
            extcodecopy(key, add(p, 0x280), DELTA_AT, 0x80)
            let success := staticcall(gas(), 0x08, p, 0x300, p, 0x20)
            valid := and(success, eq(mload(p), 1))
        }
    }

    /// @dev A G2 point's four words at index i of the key.
    function _putG2(uint256[] memory key, uint256 i, uint256[2][2] memory p) private pure {
        (key[i], key[i + 1], key[i + 2], key[i + 3]) = (p[0][0], p[0][1], p[1][0], p[1][1]);
    }
}

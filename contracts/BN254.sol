// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What the Groth16 verifiers share about the BN254 curve, written once: the base field
/// the verifying key's layout and the checks of its points at deployment.

/// @dev BN254 base field order: every coordinate of a point is below it.
uint256 constant BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

/// @notice A key point is not on its curve (or a G2 point is outside the subgroup).
error InvalidVerifyingKey();

/// @notice A Groth16 verifying key as both verifiers' constructors take it, in snarkjs's calling
/// convention: G1 points as [x, y], G2 points as [[x_im, x_re], [y_im, y_re]].
/// @param alpha1 G1 point alpha
/// @param beta2 G2 point beta
/// @param gamma2 G2 point gamma
/// @param delta2 G2 point delta
/// @param ic the n + 1 G1 points of the public-input linear combination (n public inputs)
struct VerifyingKey {
    uint256[2] alpha1;
    uint256[2][2] beta2;
    uint256[2][2] gamma2;
    uint256[2][2] delta2;
    uint256[2][] ic;
}

/// @title BN254 point checks
/// @author zkml-market
/// @notice The checks a verifier's constructor runs on its key, so that a bad key is refused at
/// deployment instead of making every proof fail (or worse).
library BN254 {
    /// @notice y^2 == x^3 + 3 over the base field (the point at infinity (0, 0) is refused).
    /// @param x the x coordinate
    /// @param y the y coordinate
    /// @return whether (x, y) is a finite point of G1
    function onCurveG1(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= BASE_FIELD || y >= BASE_FIELD) return false;
        uint256 rhs = addmod(mulmod(mulmod(x, x, BASE_FIELD), x, BASE_FIELD), 3, BASE_FIELD);
        return mulmod(y, y, BASE_FIELD) == rhs && !(x == 0 && y == 0);
    }

    /// @notice The pairing precompile refuses a G2 point off the twist or outside the subgroup;
    /// pairing it with the G1 point at infinity checks exactly that.
    /// @param p the G2 point as [[x_im, x_re], [y_im, y_re]]
    /// @return whether p is a finite point of G2
    function validG2(uint256[2][2] memory p) internal view returns (bool) {
        for (uint256 i = 0; i < 2; ++i) {
            for (uint256 j = 0; j < 2; ++j) {
                if (p[i][j] >= BASE_FIELD) return false;
            }
        }
        if (p[0][0] == 0 && p[0][1] == 0 && p[1][0] == 0 && p[1][1] == 0) return false;
        uint256[6] memory input = [uint256(0), 0, p[0][0], p[0][1], p[1][0], p[1][1]];
        uint256[1] memory out;
        bool success;
        assembly ("memory-safe") {
            success := staticcall(gas(), 0x08, input, 192, out, 32)
        }
        return success && out[0] == 1;
    }

    /// @notice Revert with InvalidVerifyingKey unless every point of a Groth16 key is valid:
    /// alpha and the IC points finite points of G1, beta, gamma and delta finite points of G2,
    /// and at least one public input (two IC points).
    /// @param vk the key
    function requireValidKey(VerifyingKey memory vk) internal view {
        if (!onCurveG1(vk.alpha1[0], vk.alpha1[1]) || !validG2(vk.beta2) || !validG2(vk.gamma2)) {
            revert InvalidVerifyingKey();
        }
        if (!validG2(vk.delta2) || vk.ic.length < 2) revert InvalidVerifyingKey();
        for (uint256 i = 0; i < vk.ic.length; ++i) {
            if (!onCurveG1(vk.ic[i][0], vk.ic[i][1])) revert InvalidVerifyingKey();
        }
    }
}

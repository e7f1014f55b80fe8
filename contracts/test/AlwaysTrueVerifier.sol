// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Test-only statement verifier that accepts every proof
/// @author zkml-market
/// @notice What a dishonest provider could register as its accuracy and retrieval verifier (the
/// registry only requires code at the address): it has the Groth16Verifier calldata ABI and says
/// yes to anything, an all-zero proof included. The clients' setup check must refuse it.
contract AlwaysTrueVerifier {
    /// @notice Accepts any proof of any public signals.
    function verifyProof(
        uint256[2] calldata,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[4] calldata
    ) external pure returns (bool) {
        return true;
    }
}

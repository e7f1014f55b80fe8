// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What the settlement contracts share, written once: the field every public input
/// lives in, the errors of their common rules, the life cycle of a paid request and checked
/// narrowing casts.

/// @dev BN254 scalar field order: every public input of a proof (a commitment, a label) is below it.
uint256 constant SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

/// @notice The life of a paid request: opened with its payment, then settled exactly once,
/// by a proof (Fulfilled) or, unanswered after its deadline, by a refund (Refunded).
enum RequestStatus {
    None,
    Open,
    Fulfilled,
    Refunded
}

/// @notice Only the model's provider may do this.
/// @param modelId the model
/// @param caller who tried
error NotProvider(uint256 modelId, address caller);
/// @notice The model is retired and takes no new business.
/// @param modelId the model
error ModelIsRetired(uint256 modelId);
/// @notice No request has this id.
/// @param requestId the id asked for
error UnknownRequest(uint256 requestId);
/// @notice The request was already fulfilled or refunded.
/// @param requestId the request
/// @param status its status now
error RequestNotOpen(uint256 requestId, RequestStatus status);
/// @notice The deadline passed: the request or challenge can only be refunded or expired now.
/// @param id the request or challenge
/// @param deadline its deadline (unix time)
error DeadlinePassed(uint256 id, uint256 deadline);
/// @notice The deadline has not passed yet: the provider may still answer.
/// @param id the request or challenge
/// @param deadline its deadline (unix time)
error DeadlineNotReached(uint256 id, uint256 deadline);
/// @notice The proof does not verify for the public inputs the contract holds.
/// @param id the request or challenge the proof answered
error InvalidProof(uint256 id);
/// @notice A value does not fit the narrower integer type its record stores it in.
/// @param value the value
/// @param bits the width of the type it had to fit
error CastOverflow(uint256 value, uint256 bits);

/// @title Checked narrowing casts
/// @author zkml-market
/// @notice A cast that would drop high bits reverts with CastOverflow instead. (The other
/// narrowing casts of the contracts follow a bound that a named error of their own enforces:
/// a deadline's 40 bits, a price's 96, a pool's size, a stake's claim and sample count.)
library Casts {
    /// @notice `value` as a uint64.
    /// @param value the value
    /// @return the same value, 64 bits wide
    function toUint64(uint256 value) internal pure returns (uint64) {
        if (value > type(uint64).max) revert CastOverflow(value, 64);
        return uint64(value);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Casts} from "../Common.sol";

/// @title Test-only window onto the checked casts
/// @author zkml-market
/// @notice Exposes Casts so that a test can show a value that does not fit is refused by name.
contract CastsProbe {
    /// @notice `value` narrowed to 64 bits (reverts CastOverflow when it does not fit).
    /// @param value the value
    /// @return the same value
    function toUint64(uint256 value) external pure returns (uint64) {
        return Casts.toUint64(value);
    }
}

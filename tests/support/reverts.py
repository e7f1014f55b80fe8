"""A refused call moves nothing: run it, expect its custom error, compare every balance and
credit before and after (the sender of a mined revert pays its gas, nothing else moves)."""

from __future__ import annotations

import pytest

from marketplace.contracts import ContractRevert


def balances(world) -> dict:
    """Every balance and credit a refused call must leave alone: ``world`` has ``w3``,
    ``market`` and ``accounts``."""
    return {
        "market": world.market.balance(),
        "owed": [world.market.owed(a) for a in world.accounts],
        "ether": [world.w3.eth.get_balance(a) for a in world.accounts],
    }


def refused(world, error: str, action) -> ContractRevert:
    """Run ``action``, expect the custom error ``error``, and check nothing moved."""
    before = balances(world)
    with pytest.raises(ContractRevert) as info:
        action()
    assert info.value.error == error, info.value
    after = balances(world)
    receipt = info.value.receipt
    if receipt is not None:  # mined (the embedded chain sends once): its sender paid the gas, nothing else moved
        after["ether"][world.accounts.index(receipt["from"])] += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert after == before
    return info.value

"""A connected web3: an in-process eth-tester chain (py-evm) by default, or any JSON-RPC node.

The embedded chain needs nothing started by hand; a URL (a local ``hardhat node``, a testnet)
selects the same code path over HTTP. Time moves with ``advance_time`` on both, so deadlines
can be tested the same way everywhere.
"""

from __future__ import annotations

from typing import cast

from web3 import HTTPProvider, Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint

from prover.errors import ChainError

# how long a JSON-RPC call may take before the node counts as unreachable
RPC_TIMEOUT_S = 30


def connect(url: str | None = None, timeout: float = RPC_TIMEOUT_S) -> Web3:
    """A web3 connected to ``url`` (HTTP JSON-RPC), or to a fresh in-process eth-tester chain
    with funded accounts when ``url`` is None. Raises ChainError when the node does not answer."""
    if url is None:
        from eth_tester import EthereumTester, PyEVMBackend

        return Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id
    except Exception as exc:  # requests/aiohttp/web3 each raise their own connection errors
        raise ChainError(
            f"no Ethereum JSON-RPC node answers at {url} ({type(exc).__name__}): start one "
            f"(e.g. `npx hardhat node`) or pass the right URL"
        ) from exc
    return w3


def is_embedded(w3: Web3) -> bool:
    """Whether ``w3`` talks to the in-process eth-tester chain."""
    return isinstance(w3.provider, EthereumTesterProvider)


def latest_timestamp(w3: Web3) -> int:
    """The timestamp of the latest block: what the next transaction's ``block.timestamp``
    is compared with (it will be at least this)."""
    return int(w3.eth.get_block("latest")["timestamp"])


def advance_time(w3: Web3, seconds: int) -> int:
    """Move the chain's clock forward by ``seconds`` and mine a block at the new time.
    Returns the new latest timestamp."""
    if seconds < 0:
        raise ValueError("time only moves forward")
    if is_embedded(w3):
        tester = cast(EthereumTesterProvider, w3.provider).ethereum_tester
        assert tester is not None, "an EthereumTesterProvider sets its tester when it is made"
        # the pending block may already be ahead of the latest one (eth-tester follows the
        # wall clock), and time travel must strictly move it forward
        pending = int(tester.get_block_by_number("pending")["timestamp"])
        tester.time_travel(max(latest_timestamp(w3) + seconds, pending + 1))
        tester.mine_blocks(1)
    else:
        try:
            w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
            w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        except Exception as exc:
            uri = cast(HTTPProvider, w3.provider).endpoint_uri  # connect() makes one for every URL
            raise ChainError(f"the node at {uri} cannot move time "
                             f"(evm_increaseTime): use a development node such as hardhat") from exc
    return latest_timestamp(w3)

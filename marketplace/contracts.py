"""Compile, ship, deploy and call the marketplace contracts.

The compiled artifacts (ABI and bytecode) live in ``marketplace/artifacts`` so that a provider
needs no compiler: ``build_artifacts()`` (``python -m marketplace.contracts``) regenerates all of
them, the marketplace's and the statement contracts', from one compile of ``contracts/``, and a
test fails when they differ from a fresh compile.

``Market`` wraps a deployed ModelRegistry + Marketplace pair with typed methods; a revert
becomes ``ContractRevert`` carrying the contract's custom error name and arguments.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_tester.exceptions import TransactionFailed
from eth_typing import ChecksumAddress
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt, Wei

from marketplace.chain import is_embedded
from marketplace.npm import REPO_ROOT
from marketplace.solc import EVM_VERSION, OPTIMIZER_RUNS, compile_files, find_compiler
from prover.circuit.statements import outputs_digest
from prover.errors import ChainError
from prover.field import limbs_to_ints
from prover.formats.binfile import atomic_output

CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
# the contracts a provider or consumer deploys; contracts/test/ holds test-only contracts
SHIPPED = ("Groth16Verifier", "Groth16BatchVerifier", "ModelRegistry", "Marketplace")
# the contracts of the accuracy and retrieval protocols (sources in contracts/statements/)
STATEMENT_CONTRACTS = ("AccuracyAudit", "RetrievalMarket")
# every contract with an artifact in marketplace/artifacts
ARTIFACTS = SHIPPED + STATEMENT_CONTRACTS
# statement index in ModelRegistry.registerModel's verifier array
INFERENCE, ACCURACY, RETRIEVAL = 0, 1, 2


class ContractRevert(ChainError):
    """A contract call reverted; ``error`` is the custom error's name, ``args`` its values.
    ``receipt`` is the mined transaction's receipt when the revert happened in a block (its
    sender paid the gas it used), None when it was caught before anything was sent."""

    def __init__(self, error: str, args: tuple = (), message: str | None = None):
        self.error = error
        self.args_ = tuple(args)
        self.receipt: TxReceipt | None = None
        super().__init__(message or f"the contract refused: {error}{self.args_}")


class Status(IntEnum):
    NONE = 0
    OPEN = 1
    FULFILLED = 2
    REFUNDED = 3


@dataclass(frozen=True)
class ModelRecord:
    """A registered model as ModelRegistry.model returns it."""

    provider: str
    price: int
    retired: bool
    sells_inference: bool
    inference_verifier: str
    model_commitment: int
    accuracy_verifier: str
    retrieval_verifier: str
    architecture_hash: bytes
    transcript_hash: bytes
    metadata_uri: str
    batch_verifiers: tuple[str, ...]


@dataclass(frozen=True)
class Terms:
    """What a consumer agreed to for a group of requests (Marketplace.Terms): the chain keeps
    only their hash, so fulfil and refund send them again. Request ``group_id + i`` is the
    input ``input_commitments[i]``."""

    model_id: int
    consumer: str
    price: int
    deadline: int
    input_commitments: tuple[int, ...]

    def abi(self) -> tuple:
        return (self.model_id, self.consumer, self.price, self.deadline, list(self.input_commitments))


@dataclass(frozen=True)
class RequestRecord:
    """An escrowed request: its terms (from its RequestsOpened event), its status on-chain and,
    once fulfilled, the proved result (from its RequestFulfilled event)."""

    request_id: int
    consumer: str
    deadline: int
    model_id: int
    status: Status
    escrow: int  # the price while open, 0 once settled
    input_commitment: int
    label: int | None  # None until fulfilled
    output_commitment: int | None  # None until fulfilled


# Marketplace: a request id is its group id plus its index (the group id's low 6 bits are 0)
GROUP_INDEX_BITS = 6
MAX_GROUP = 1 << GROUP_INDEX_BITS


def group_of(request_id: int) -> tuple[int, int]:
    """``(group id, index)`` of a request id."""
    index = request_id & (MAX_GROUP - 1)
    return request_id - index, index


# --- compile and ship --------------------------------------------------------------------------


def source_files(include_test: bool = False) -> list[Path]:
    """The Solidity sources under contracts/, statements/ included (test-only contracts of
    contracts/test/ when ``include_test``)."""
    test_dir = CONTRACTS_DIR / "test"
    return sorted(p for p in CONTRACTS_DIR.rglob("*.sol") if include_test or test_dir not in p.parents)


def compile_contracts(include_test: bool = False) -> dict[str, dict]:
    """Fresh compile of every source under contracts/ in one compiler run -> ``{name:
    artifact}`` in the shipped artifact form (contracts with code only: no interfaces)."""
    compiler = find_compiler()
    compiled = compile_files(source_files(include_test), compiler=compiler)
    return {
        name: {
            "contractName": name,
            "abi": out["abi"],
            "bytecode": out["bytecode"],
            "deployedBytecode": out["deployedBytecode"],
            "immutableReferences": out["immutableReferences"],
            "compiler": {"version": compiler.version, "evmVersion": EVM_VERSION, "optimizerRuns": OPTIMIZER_RUNS},
        }
        for name, out in compiled.items()
        if out["bytecode"]  # interfaces have no code
    }


def artifact_text(artifact: dict) -> str:
    """The exact text of a shipped artifact file (stable, so a fresh compile compares equal)."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def build_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Compile contracts/ and write one ``NAME.json`` per contract of ``ARTIFACTS`` into
    ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    compiled = compile_contracts()
    paths = []
    for name in ARTIFACTS:
        path = out_dir / f"{name}.json"
        with atomic_output(path, "w") as out:
            out.write(artifact_text(compiled[name]))
        paths.append(path)
    return paths


def load_artifact(name: str) -> dict:
    """The shipped artifact of a contract (no compiler needed)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        raise ChainError(
            f"no compiled artifact for {name} in {ARTIFACTS_DIR}: run "
            f"`python -m marketplace.contracts` to build it from contracts/"
        )
    return json.loads(path.read_text())


# --- reverts -----------------------------------------------------------------------------------


def _error_table(abi: list[dict]) -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for item in abi:
        if item.get("type") == "error":
            types = [inp["type"] for inp in item["inputs"]]
            table[function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")] = (item["name"], types)
    return table


def decode_revert(abis: Sequence[list[dict]], data: bytes | str) -> ContractRevert:
    """Turn revert data into ContractRevert naming the custom error (or Error(string))."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    selector, payload = data[:4], data[4:]
    table = {}
    for abi in abis:
        table.update(_error_table(abi))
    table[function_signature_to_4byte_selector("Error(string)")] = ("Error", ["string"])
    table[function_signature_to_4byte_selector("Panic(uint256)")] = ("Panic", ["uint256"])
    if selector not in table:
        return ContractRevert("Revert", (data.hex(),), f"the contract reverted without a known reason (0x{data.hex()})")
    name, types = table[selector]
    values = [Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(types, abi_decode(types, payload))]
    return ContractRevert(name, tuple(values))


# eth-tester's form of a revert: web3's "execution reverted: " before the payload's repr
_EMBEDDED_REVERT = "execution reverted: b"


def _revert_data(exc: Exception) -> bytes | None:
    """The revert payload of a failed call, or None when it carries none.

    On a node, web3 raises ContractLogicError (ContractCustomError, ContractPanicError) whose
    ``data`` is the payload in hex; some nodes nest it in a JSON-RPC error object. The embedded
    chain has no structured form: eth-tester's py-evm backend raises
    ``TransactionFailed(str(revert))`` (eth_tester/backends/pyevm/main.py, ``call`` and
    ``estimate_gas``), so the bytes survive only as their repr, which web3's eth-tester provider
    re-raises as ``TransactionFailed("execution reverted: b'...'")``. That one exception type
    and that one message form are the only text read."""
    if isinstance(exc, ContractLogicError):
        data = exc.data
        if isinstance(data, dict):  # a JSON-RPC error object: {"message": ..., "data": "0x…"}
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return bytes.fromhex(data[2:])
        return None
    message = exc.args[0] if exc.args else None
    if isinstance(exc, TransactionFailed) and isinstance(message, str) and message.startswith(_EMBEDDED_REVERT):
        try:
            payload = ast.literal_eval(message[len(_EMBEDDED_REVERT) - 1 :])
        except (ValueError, SyntaxError):
            return None
        if isinstance(payload, bytes) and len(payload) >= 4:
            return payload
    return None


# --- keys and proofs in EVM order --------------------------------------------------------------


def g1_to_evm(point) -> list[int]:
    """A G1 point in ``prover.kernels`` layout ``(2, 4)`` -> ``[x, y]`` ints."""
    return limbs_to_ints(point)


def g2_to_evm(point) -> list[list[int]]:
    """A G2 point in ``prover.kernels`` layout (py_ecc order, real first) -> EVM order
    ``[[x_im, x_re], [y_im, y_re]]``."""
    x_re, x_im, y_re, y_im = limbs_to_ints(point)
    return [[x_im, x_re], [y_im, y_re]]


def _key_to_evm(vk) -> tuple:
    """``(alpha1, beta2, gamma2, delta2, ic)`` of a ``prover.groth16.keys.VerifyingKey`` in EVM
    order: the ``VerifyingKey`` struct (BN254.sol) that both verifier constructors take."""
    return (
        g1_to_evm(vk.alpha1),
        g2_to_evm(vk.beta2),
        g2_to_evm(vk.gamma2),
        g2_to_evm(vk.delta2),
        [g1_to_evm(p) for p in vk.ic],
    )


def verifier_constructor_args(vk) -> tuple:
    """Groth16Verifier constructor arguments from a ``prover.groth16.keys.VerifyingKey``."""
    if vk.n_public != 4:
        raise ChainError(
            f"Groth16Verifier checks 4 public inputs; this key has {vk.n_public}: "
            f"the statement's circuit must expose exactly 4 public signals"
        )
    return (_key_to_evm(vk),)


# EIP-170: the largest deployed code, in bytes
CODE_SIZE_LIMIT = 24_576
# Groth16BatchVerifier's data contract: a STOP byte, then alpha, beta, gamma, delta (14 words)
# and IC[0..n] (2 words each)
_KEY_WORDS_BEFORE_IC = 14
MAX_BATCH_PUBLIC = (CODE_SIZE_LIMIT - 1) // 32 // 2 - _KEY_WORDS_BEFORE_IC // 2 - 1


def batch_verifier_constructor_args(vk) -> tuple:
    """Groth16BatchVerifier constructor arguments from a ``prover.groth16.keys.VerifyingKey``
    with at least one public input; ChainError when its key would not fit a contract's code."""
    if not 1 <= vk.n_public <= MAX_BATCH_PUBLIC:
        raise ChainError(
            f"Groth16BatchVerifier checks 1 to {MAX_BATCH_PUBLIC} public inputs (its key is "
            f"stored as contract code, at most {CODE_SIZE_LIMIT} bytes); this key has {vk.n_public}"
        )
    return (_key_to_evm(vk),)


def batch_verifier_key_code(vk) -> bytes:
    """The exact code of the data contract that a Groth16BatchVerifier for ``vk`` creates: a
    STOP byte, then the key's words (alpha, beta, gamma, delta in EVM order, then IC)."""
    ((alpha1, beta2, gamma2, delta2, ic),) = batch_verifier_constructor_args(vk)
    words = [*alpha1, *(w for g2 in (beta2, gamma2, delta2) for pair in g2 for w in pair)]
    words += [w for point in ic for w in point]
    return b"\x00" + b"".join(w.to_bytes(32, "big") for w in words)


def proof_to_evm(proof) -> tuple[list[int], list[list[int]], list[int]]:
    """A ``prover.groth16.keys.Proof`` -> ``(a, b, c)`` as verifyProof takes them."""
    return g1_to_evm(proof.a), g2_to_evm(proof.b), g1_to_evm(proof.c)


# --- deploy and call ---------------------------------------------------------------------------

# the embedded chain sends with this gas limit instead of estimating: py-evm's estimate is a
# binary search that would rerun every pairing precompile a dozen times (only used gas is paid)
EMBEDDED_GAS_LIMIT = 10_000_000


def view(call, abis: Sequence[list[dict]] = ()):
    """Run a read-only call; a revert raises ContractRevert with the custom error's name."""
    try:
        return call.call()
    except Exception as exc:
        data = _revert_data(exc)
        if data is not None:
            raise decode_revert(abis, data) from None
        raise


def transact(w3: Web3, call, sender: str, value: int = 0, abis: Sequence[list[dict]] = ()):
    """Send a contract call (or constructor) from ``sender`` and wait for it; a revert raises
    ContractRevert with the decoded custom error. Returns the receipt.

    On a node the gas estimate runs the call first, so a revert is caught before anything is
    sent. The embedded chain sends once, with a fixed gas limit and no dry run (py-evm would run
    every pairing twice); a mined revert is replayed at the block before it for its reason, and
    costs only the gas it used."""
    tx: TxParams = {"from": sender, "value": Wei(value)}
    try:
        if is_embedded(w3):
            tx = call.build_transaction({**tx, "gas": EMBEDDED_GAS_LIMIT})
            tx_hash = w3.eth.send_transaction(tx)
        else:
            tx["gas"] = call.estimate_gas(tx)
            tx_hash = call.transact(tx)
    except Exception as exc:
        data = _revert_data(exc)
        if data is not None:
            raise decode_revert(abis, data) from None
        raise ChainError(f"the call was refused: {exc}") from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        # the revert's reason: replay the call on the state it met
        revert = ContractRevert("Revert", (), f"transaction {tx_hash.hex()} reverted")
        try:
            replay = cast(TxParams, {k: v for k, v in tx.items() if k != "nonce"})
            w3.eth.call(replay, block_identifier=receipt["blockNumber"] - 1)
        except Exception as exc:
            data = _revert_data(exc)
            if data is not None:
                revert = decode_revert(abis, data)
        revert.receipt = receipt
        raise revert
    return receipt


def _snake_case(name: str) -> str:
    """An ABI name in Python's spelling: ``metadataURI`` -> ``metadata_uri``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z]+)", lambda m: "_" + m.group(1).lower(), name)


def struct_fields(call) -> list[str]:
    """The ABI component names of the struct (or array of structs) a contract call returns."""
    (output,) = call.abi["outputs"]
    return [component["name"] for component in output["components"]]


def record_from_struct(
    cls: type[Any], struct: Sequence, fields: Sequence[str], rename: dict[str, str] | None = None, **convert
) -> Any:
    """The dataclass ``cls`` built from a struct's values and its ABI component names
    (``struct_fields``): each record field takes the component of its name in snake case (or
    the one ``rename`` maps to it), so a struct whose fields move or change is refused instead
    of read shifted. A field converts by ``convert[name]`` when given, else by its annotated
    type (int, bool, bytes, str, an IntEnum). ChainError when the struct's fields are not the
    record's."""
    values = {(rename or {}).get(k, _snake_case(k)): v for k, v in zip(fields, struct, strict=True)}
    names = [f.name for f in dataclasses.fields(cls)]
    if sorted(values) != sorted(names):
        raise ChainError(
            f"the contract returns {sorted(values)} where {cls.__name__} has {sorted(names)}: "
            f"marketplace/artifacts and the Python records disagree; update both from contracts/"
        )
    hints = typing.get_type_hints(cls)
    return cls(**{n: convert[n](values[n]) if n in convert else hints[n](values[n]) for n in names})


def read_record(cls: type[Any], call, abis: Sequence[list[dict]] = (), rename: dict[str, str] | None = None, **convert):
    """Run a read-only call that returns one struct and build ``cls`` from it by name
    (``record_from_struct``); a revert raises ContractRevert."""
    return record_from_struct(cls, view(call, abis), struct_fields(call), rename, **convert)


def deploy(w3: Web3, name: str, *args, sender: str, artifact: dict | None = None) -> tuple[Contract, Any]:
    """Deploy a contract from its shipped artifact (or the one given). Returns the contract
    and the deployment receipt."""
    artifact = artifact or load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(w3, factory.constructor(*args), sender, abis=[artifact["abi"]])
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]), receipt


def deploy_verifier(w3: Web3, vk, sender: str) -> tuple[Contract, Any]:
    """Deploy a Groth16Verifier for ``vk`` (a VerifyingKey): no compiler involved."""
    return deploy(w3, "Groth16Verifier", *verifier_constructor_args(vk), sender=sender)


def deploy_batch_verifier(w3: Web3, vk, sender: str) -> tuple[Contract, Any]:
    """Deploy a Groth16BatchVerifier for ``vk`` (a VerifyingKey with any number of public
    inputs up to ``MAX_BATCH_PUBLIC``); its constructor creates the key's data contract."""
    return deploy(w3, "Groth16BatchVerifier", *batch_verifier_constructor_args(vk), sender=sender)


class Market:
    """A deployed Marketplace (which is also the ModelRegistry of the models it sells), with
    typed calls. ``registry`` and ``marketplace`` are the same contract.

    Every state-changing method waits for its transaction; its receipt is kept in
    ``last_receipt`` (for gas figures). Reverts raise ContractRevert(error name, args).
    """

    def __init__(self, w3: Web3, marketplace: Contract):
        self.w3 = w3
        self.marketplace = marketplace
        self.registry = marketplace
        self.last_receipt: TxReceipt | None = None
        self._abis = [marketplace.abi, load_artifact("Groth16Verifier")["abi"]]
        self._terms: dict[int, Terms] = {}  # group id -> terms, from RequestsOpened events

    @classmethod
    def deploy(cls, w3: Web3, sender: str) -> Market:
        """Deploy a fresh marketplace from the shipped artifact."""
        marketplace, _ = deploy(w3, "Marketplace", sender=sender)
        return cls(w3, marketplace)

    @classmethod
    def at(cls, w3: Web3, address: ChecksumAddress) -> Market:
        """Bind to a deployed marketplace."""
        return cls(w3, w3.eth.contract(address=address, abi=load_artifact("Marketplace")["abi"]))

    def _send(self, call, sender: str, value: int = 0):
        self.last_receipt = transact(self.w3, call, sender, value, self._abis)
        return self.last_receipt

    @property
    def receipt(self) -> TxReceipt:
        """``last_receipt``, the receipt of the last transaction this Market sent; ChainError
        before it sent one."""
        if self.last_receipt is None:
            raise ChainError(
                "no transaction sent through this Market yet: its receipt is read after a "
                "state-changing call (open_request, fulfil, ...)"
            )
        return self.last_receipt

    def _view(self, call):
        return view(call, self._abis)

    # registry

    def register_model(
        self,
        provider: str,
        model_commitment: int,
        inference_verifier: str,
        price: int,
        architecture_hash: bytes = b"\0" * 32,
        transcript_hash: bytes = b"\0" * 32,
        metadata_uri: str = "",
        accuracy_verifier: str | None = None,
        retrieval_verifier: str | None = None,
        batch_verifiers: Sequence[str] = (),
    ) -> int:
        """Register a model for ``provider``; returns its id. ``batch_verifiers`` are
        Groth16BatchVerifier addresses, at most one per batch size."""
        zero = "0x" + "00" * 20
        verifiers = [inference_verifier or zero, accuracy_verifier or zero, retrieval_verifier or zero]
        receipt = self._send(
            self.registry.functions.registerModel(
                model_commitment,
                architecture_hash,
                verifiers,
                list(batch_verifiers),
                price,
                transcript_hash,
                metadata_uri,
            ),
            provider,
        )
        (event,) = self.registry.events.ModelRegistered().process_receipt(receipt)
        return int(event["args"]["modelId"])

    def set_price(self, provider: str, model_id: int, price: int) -> None:
        self._send(self.registry.functions.setPrice(model_id, price), provider)

    def retire(self, provider: str, model_id: int) -> None:
        self._send(self.registry.functions.retire(model_id), provider)

    def model(self, model_id: int) -> ModelRecord:
        """The registry's record of a model (UnknownModel revert for an id never registered)."""
        return read_record(
            ModelRecord,
            self.registry.functions.model(model_id),
            self._abis,
            batch_verifiers=lambda v: tuple(Web3.to_checksum_address(a) for a in v),
        )

    def batch_verifier(self, model_id: int, batch_size: int) -> str | None:
        """The model's verifier for batches of ``batch_size`` requests, None when it has none."""
        address = self._view(self.registry.functions.batchVerifierFor(model_id, batch_size))
        return None if int(address, 16) == 0 else Web3.to_checksum_address(address)

    def price(self, model_id: int) -> int:
        return int(self._view(self.registry.functions.inferenceTerms(model_id))[3])

    # marketplace

    def open_request(
        self, consumer: str, model_id: int, input_commitment: int, deadline: int, value: int | None = None
    ) -> int:
        """Escrow the model's price (or ``value``, to test refusal) for a prediction; returns
        the request id."""
        value = self.price(model_id) if value is None else value
        receipt = self._send(
            self.marketplace.functions.openRequest(model_id, input_commitment, deadline), consumer, value
        )
        return self._opened(receipt)[0]

    def open_requests(
        self, consumer: str, model_id: int, input_commitments: Sequence[int], deadline: int, value: int | None = None
    ) -> list[int]:
        """Escrow the model's price for each input in one transaction (one storage slot);
        returns the request ids, in input order."""
        value = self.price(model_id) * len(input_commitments) if value is None else value
        call = self.marketplace.functions.openRequests(model_id, list(input_commitments), deadline)
        return self._opened(self._send(call, consumer, value))

    # a group's terms are in its opening event: RequestOpened (openRequest, one input) or
    # RequestsOpened (openRequests); the ids field is requestId or groupId
    _OPENED = (("RequestOpened", "requestId"), ("RequestsOpened", "groupId"))

    def _opened(self, receipt) -> list[int]:
        for name, _ in self._OPENED:
            for event in self.marketplace.events[name]().process_receipt(receipt, errors=DISCARD):
                return self._remember(event)
        raise ChainError(f"transaction {receipt['transactionHash'].hex()} opened no request")

    def _remember(self, event) -> list[int]:
        """Keep the terms of an opening event; its request ids."""
        args = event["args"]
        single = event["event"] == "RequestOpened"
        terms = Terms(
            int(args["modelId"]),
            Web3.to_checksum_address(args["consumer"]),
            int(args["price"]),
            int(args["deadline"]),
            (int(args["inputCommitment"]),) if single else tuple(int(c) for c in args["inputCommitments"]),
        )
        group = int(args["requestId"] if single else args["groupId"])
        self._terms[group] = terms
        return [group + i for i in range(len(terms.input_commitments))]

    def opened(self, model_id: int, from_block: int, to_block: int) -> list[tuple[int, Terms]]:
        """The requests opened for a model in a block range, in chain order: ``(request id,
        group terms)``."""
        events = []
        for name, _ in self._OPENED:
            events += self.marketplace.events[name]().get_logs(
                from_block=from_block, to_block=to_block, argument_filters={"modelId": model_id}
            )
        events.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
        return [(rid, self._terms[group_of(rid)[0]]) for event in events for rid in self._remember(event)]

    def terms(self, request_id: int) -> Terms:
        """The terms of a request's group (read from its opening event once, then kept);
        ContractRevert UnknownRequest when no group holds the id."""
        group, index = group_of(request_id)
        if group not in self._terms:
            for name, field in self._OPENED:
                for event in self.marketplace.events[name]().get_logs(from_block=0, argument_filters={field: group}):
                    self._remember(event)
        terms = self._terms.get(group)
        if terms is None or index >= len(terms.input_commitments):
            raise ContractRevert("UnknownRequest", (request_id,))
        return terms

    def fulfil(self, sender: str, request_id: int, proof, label: int, output_commitment: int) -> None:
        """Answer a request. ``proof`` is ``(a, b, c)`` in EVM order or a Groth16 ``Proof``."""
        a, b, c = proof if isinstance(proof, (tuple, list)) else proof_to_evm(proof)
        terms, index = self.terms(request_id), group_of(request_id)[1]
        call = self.marketplace.functions.fulfil(terms.abi(), index, a, b, c, label, output_commitment)
        self._send(call, sender)

    def fulfil_batch(
        self,
        sender: str,
        model_id: int,
        batch_size: int,
        proof,
        answers: Sequence[tuple[int, int, int]],
        digest: int | None = None,
    ) -> list[int]:
        """Answer up to ``batch_size`` requests with one proof of the model's batch statement;
        ``answers`` are ``(request id, label, output commitment)`` in the proof's slot order,
        and ``digest`` the proof's outputs digest (by default the one of these answers).
        Returns the ids it settled (the others were no longer open or in time)."""
        a, b, c = proof if isinstance(proof, (tuple, list)) else proof_to_evm(proof)
        groups: dict[int, int] = {}
        terms: list[tuple] = []
        picks, outputs = [], []
        for request_id, label, output_commitment in answers:
            group, index = group_of(request_id)
            if group not in groups:
                groups[group] = len(terms)
                terms.append(self.terms(request_id).abi())
            picks.append((groups[group] << 8 | index, label))
            outputs.append(output_commitment)
        if digest is None:  # a batch of the wrong size gets none: the contract refuses it (BadBatch)
            digest = outputs_digest(outputs, batch_size) if 1 <= len(outputs) <= batch_size else 0
        call = self.marketplace.functions.fulfilBatch(model_id, batch_size, (a, b, c), terms, picks, (digest, outputs))
        receipt = self._send(call, sender)
        return [
            int(e["args"]["requestId"])
            for e in self.marketplace.events.RequestFulfilled().process_receipt(receipt, errors=DISCARD)
        ]

    def refund(self, consumer: str, request_id: int) -> None:
        """Refund every unanswered request of ``request_id``'s group after its deadline."""
        self._send(self.marketplace.functions.refund(self.terms(request_id).abi()), consumer)

    def withdraw(self, account: str) -> int:
        """Withdraw everything owed to ``account``; returns the wei sent."""
        receipt = self._send(self.marketplace.functions.withdraw(), account)
        (event,) = self.marketplace.events.Withdrawn().process_receipt(receipt)
        return int(event["args"]["amount"])

    def owed(self, account: str) -> int:
        return int(self.marketplace.functions.owed(account).call())

    def status(self, request_id: int) -> Status:
        """A request's status (NONE for an id no group holds). The contract deletes a group
        once all its requests are settled; their status then comes from their events."""
        status = Status(int(self._view(self.marketplace.functions.requestStatus(request_id))))
        if status == Status.NONE:
            for name, settled in (("RequestFulfilled", Status.FULFILLED), ("RequestRefunded", Status.REFUNDED)):
                if self._settlement(name, request_id) is not None:
                    return settled
        return status

    def _settlement(self, name: str, request_id: int):
        """The last ``name`` event (RequestFulfilled, RequestRefunded) of a request, or None."""
        events = self.marketplace.events[name]().get_logs(from_block=0, argument_filters={"requestId": request_id})
        return events[-1] if events else None

    def request(self, request_id: int) -> RequestRecord:
        """A request's record: terms, status and result. ContractRevert UnknownRequest for an
        id no group holds. The output commitment is None unless proved: by its fulfil's
        proof, or for a batch by the digest its BatchFulfilled event carries."""
        status = self.status(request_id)
        if status == Status.NONE:
            raise ContractRevert("UnknownRequest", (request_id,))
        terms, index = self.terms(request_id), group_of(request_id)[1]
        label = output = None
        if status == Status.FULFILLED:
            event = self._settlement("RequestFulfilled", request_id)
            label, output = int(event["args"]["label"]), self._proved_output(event)
        return RequestRecord(
            request_id,
            terms.consumer,
            terms.deadline,
            terms.model_id,
            status,
            terms.price if status == Status.OPEN else 0,
            terms.input_commitments[index],
            label,
            output,
        )

    def _proved_output(self, fulfilled) -> int | None:
        """The output commitment of a RequestFulfilled event if a proof proved it: always for
        ``fulfil``; for ``fulfilBatch`` when the list of its BatchFulfilled event (the next one
        in the transaction) holds it and has the digest the proof was checked against."""
        output = int(fulfilled["args"]["outputCommitment"])
        receipt = self.w3.eth.get_transaction_receipt(fulfilled["transactionHash"])
        batches = [
            e
            for e in self.marketplace.events.BatchFulfilled().process_receipt(receipt, errors=DISCARD)
            if e["logIndex"] > fulfilled["logIndex"]
        ]
        if not batches:
            return output
        args = min(batches, key=lambda e: e["logIndex"])["args"]
        outputs = [int(v) for v in args["outputCommitments"]]
        if output not in outputs or outputs_digest(outputs, int(args["batchSize"])) != int(args["outputsDigest"]):
            return None
        return output

    def balance(self) -> int:
        """Ether the marketplace holds."""
        return int(self.w3.eth.get_balance(self.marketplace.address))


def main(argv: list[str] | None = None) -> int:
    """Regenerate marketplace/artifacts from contracts/."""
    for path in build_artifacts():
        print(path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

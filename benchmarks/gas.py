"""Gas report of the contracts: ``python -m benchmarks.gas [--url URL]``.

Runs every step of the pay-per-verified-prediction flow with a real proof (the toy inference
circuit of the contract tests, proved by our prover) on eth-tester, or on the JSON-RPC node at
``--url`` (e.g. a ``hardhat node``), and reports per step the transaction's gas, its intrinsic
part (21000 plus calldata) and the execution part, plus each contract's deployed code size
against the 24,576-byte limit. Gas is deterministic, so one run suffices; the table is printed
and saved to ``benchmarks/results/gas.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import CACHE_DIR, RESULTS_DIR
from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import CODE_SIZE_LIMIT, Market, deploy, deploy_verifier, transact
from marketplace.npm import REPO_ROOT
from marketplace.solc import EVM_VERSION, find_compiler
from prover.formats.binfile import atomic_output

PRICE = 10**16
TIMEOUT = 3600


def _toy_circuit():
    # one implementation of the test circuit and its ceremony: the contract tests' helper
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_contracts_proofs import build_toy_circuit

    return build_toy_circuit(CACHE_DIR / "gas" / "toy_inference", CACHE_DIR / "gas" / "ptau")


def intrinsic_gas(w3, tx_hash) -> int:
    """21000 plus 16 gas per non-zero and 4 per zero calldata byte (the execution-independent
    part of a transaction's gas)."""
    tx = w3.eth.get_transaction(tx_hash)
    data = bytes(tx["input"])
    base = 21_000 + sum(16 if b else 4 for b in data)
    if tx.get("to") is None:  # creation: 32000 plus 2 gas per 32-byte word of init code
        base += 32_000 + 2 * ((len(data) + 31) // 32)
    return base


def measure(url: str | None = None, log=print) -> dict:
    """Run the flow once and return ``{"steps": [...], "code_size": {...}, ...}``."""
    log("building the toy circuit and proofs (cached under benchmarks/.cache/gas)")
    circuit = _toy_circuit()
    proof, other = circuit.proof("a", "x1"), circuit.proof("a", "x2")
    w3 = connect(url)
    deployer, provider, consumer = w3.eth.accounts[:3]
    steps: list[dict] = []

    def record(step: str, receipt, note: str = "") -> None:
        intrinsic = intrinsic_gas(w3, receipt["transactionHash"])
        steps.append(
            {
                "step": step,
                "gas": int(receipt["gasUsed"]),
                "intrinsic": intrinsic,
                "execution": int(receipt["gasUsed"]) - intrinsic,
                "note": note,
            }
        )

    verifier, receipt = deploy_verifier(w3, circuit.verifying_key, deployer)
    record("deploy Groth16Verifier", receipt, "key as immutables, 3 pairing checks of the key")
    registry, receipt = deploy(w3, "ModelRegistry", sender=deployer)
    record("deploy ModelRegistry (standalone)", receipt)
    market_contract, receipt = deploy(w3, "Marketplace", sender=deployer)
    record("deploy Marketplace (is ModelRegistry)", receipt)
    market = Market(w3, market_contract)

    a, b, c = proof.evm
    record(
        "verifyProof alone",
        transact(w3, verifier.functions.verifyProof(a, b, c, list(proof.public)), deployer),
        "4 public inputs, as a transaction",
    )
    model_id = market.register_model(provider, proof.model_commitment, verifier.address, PRICE, metadata_uri="toy://a")
    record("registerModel", market.last_receipt, "7-byte metadata URI; marks the provider's credit slot")
    market.set_price(provider, model_id, PRICE)
    record("setPrice", market.last_receipt)

    def open_and_fulfil(note: str) -> None:
        rid = market.open_request(consumer, model_id, proof.input_commitment, latest_timestamp(w3) + TIMEOUT)
        record("openRequest", market.last_receipt, note)
        market.fulfil(provider, rid, proof.evm, proof.label, proof.output_commitment)
        record("fulfil", market.last_receipt, note)

    open_and_fulfil("first request (request counter slot new) / the provider's first payment")
    open_and_fulfil("a later request and payment")
    late = market.open_request(consumer, model_id, other.input_commitment, latest_timestamp(w3) + TIMEOUT)
    advance_time(w3, TIMEOUT + 1)
    market.refund(consumer, late)
    record("refund", market.last_receipt, "after the deadline")
    market.withdraw(provider)
    record("withdraw", market.last_receipt, "provider, 2 payments")
    market.withdraw(consumer)
    record("withdraw", market.last_receipt, "consumer, 1 refund")
    open_and_fulfil("after the provider withdrew")
    market.retire(provider, model_id)
    record("retire", market.last_receipt)

    code_size = {
        name: len(w3.eth.get_code(addr))
        for name, addr in (
            ("Groth16Verifier", verifier.address),
            ("ModelRegistry", registry.address),
            ("Marketplace", market_contract.address),
        )
    }
    compiler = find_compiler()
    return {
        "chain": url or "eth-tester (py-evm)",
        "compiler": f"solc {compiler.version} ({compiler.backend})",
        "evm_version": EVM_VERSION,
        "proof_source": proof.source,
        "steps": steps,
        "code_size": code_size,
        "code_size_limit": CODE_SIZE_LIMIT,
    }


def table(result: dict) -> str:
    lines = [f"{'step':40} {'gas':>9} {'intrinsic':>9} {'execution':>9}  note"]
    for s in result["steps"]:
        lines.append(f"{s['step']:40} {s['gas']:9,} {s['intrinsic']:9,} {s['execution']:9,}  {s['note']}")
    lines.append("")
    lines.append(f"{'contract':40} {'code bytes':>9}  (limit {result['code_size_limit']:,})")
    for name, size in result["code_size"].items():
        lines.append(f"{name:40} {size:9,}")
    return "\n".join(lines)


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "w") as out:
        json.dump(result, out, indent=1)
        out.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gas", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="JSON-RPC node (default: in-process eth-tester)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "gas.json")
    args = parser.parse_args(argv)
    result = measure(args.url)
    print(f"{result['chain']}, {result['compiler']}, evm {result['evm_version']}, proof by {result['proof_source']}")
    print(table(result))
    save(result, args.out)
    print(f"saved {args.out.relative_to(REPO_ROOT) if args.out.is_relative_to(REPO_ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Gas report of the contracts: ``python -m benchmarks.gas [--url URL] [--no-hardhat]``.

Runs every step of the pay-per-verified-prediction flow with real proofs, in the same run on
eth-tester and on a ``hardhat node`` it starts (or on the JSON-RPC node at ``--url`` instead),
and reports per step the whole transaction's gas, its intrinsic part (21000 plus calldata) and
the execution part, plus each contract's deployed code size against the 24,576-byte limit.

Two flows: the step-by-step one on the toy inference circuit of the contract tests; and gas per
verified prediction on the bundled digits MLP, one request at a time and in batches of 8, 32
and 64, opened either by one ``openRequests`` or by one ``openRequest`` each, and settled by
one ``fulfilBatch``. Its batch keys are INSECURE known-secret keys (gas does not depend on the
key), cached under ``benchmarks/.cache/gas``. Gas is deterministic, so one run suffices; the
tables are printed and saved to ``benchmarks/results/gas.json``, the plot of gas per
prediction against batch size to ``benchmarks/results/gas_per_prediction.svg``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import CACHE_DIR, RESULTS_DIR
from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import CODE_SIZE_LIMIT, Market, deploy, deploy_batch_verifier, deploy_verifier, transact
from marketplace.npm import REPO_ROOT
from marketplace.solc import EVM_VERSION, find_compiler
from prover.formats.binfile import atomic_output

PRICE = 10**16
TIMEOUT = 3600


BATCH_SIZES = (8, 32, 64)
# 418,816 gas per prediction before lean requests (openRequest 146,203 + fulfil 272,613)
BEFORE_PER_PREDICTION = 418_816


def _toy_circuit():
    # one implementation of the test circuit and its ceremony: the contract tests' helper
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from support.toy import build_toy_circuit

    return build_toy_circuit(CACHE_DIR / "gas" / "toy_inference", CACHE_DIR / "gas" / "ptau")


@dataclass
class Statement:
    """One key of the digits MLP's inference statements and one proof with its requests."""

    batch: int
    vk: object
    proof: object
    requests: list[tuple[int, int, int]]  # (input commitment, label, output commitment)


def _key(r1cs, name: str, log, fresh: bool = False):
    """The INSECURE known-secret key of ``r1cs``, cached as ``.cache/gas/NAME.zkey`` (set up
    again when ``fresh``)."""
    from benchmarks.accuracy_retrieval import SECRET
    from prover.ceremony.known_secret import known_secret_setup
    from prover.formats.zkey import read_zkey, write_zkey

    path = CACHE_DIR / "gas" / f"{name}.zkey"
    if path.exists() and not fresh:
        pk = read_zkey(path)
        if (pk.n_vars, pk.n_public) == (r1cs.n_wires, r1cs.n_public):
            return pk
    log(f"  setting up {name} ({r1cs.n_constraints:,} constraints, INSECURE known secret)")
    pk = known_secret_setup(r1cs, *SECRET)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_zkey(pk, path)
    return pk


def mlp_statements(log=print) -> dict[int, Statement]:
    """The digits MLP's single statement (batch 1) and its batches of BATCH_SIZES, each with a
    proof of distinct requests (test digits, salts by batch)."""
    from benchmarks.accuracy_retrieval import _digits
    from prover.circuit import statements as S
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    q, xs, _ = _digits(max(BATCH_SIZES))
    out = {}
    for n in (1, *BATCH_SIZES):
        circuit = S.inference_circuit(q, "private", batch=n)
        salts = [1000 * n + i for i in range(n)]
        result = circuit.batch_witness(xs[:n], salts)
        log(f"  proving a batch of {n}")
        pk = _key(circuit.r1cs, f"mlp-batch{n}", log)
        proof, signals = prove(pk, result.witness, r1cs=circuit.r1cs)
        if not verify(pk.verifying_key(), signals, proof):  # a cached key of an older circuit
            pk = _key(circuit.r1cs, f"mlp-batch{n}", log, fresh=True)
            proof, signals = prove(pk, result.witness, r1cs=circuit.r1cs)
        public = result.public
        requests = list(zip(public["input_commitment"], result.labels, result.output_commitments))
        out[n] = Statement(n, pk.verifying_key(), proof, [(int(c), int(label), int(o)) for c, label, o in requests])
    return out


def intrinsic_gas(w3, tx_hash) -> int:
    """21000 plus 16 gas per non-zero and 4 per zero calldata byte (the execution-independent
    part of a transaction's gas)."""
    tx = w3.eth.get_transaction(tx_hash)
    data = bytes(tx["input"])
    base = 21_000 + sum(16 if b else 4 for b in data)
    if tx.get("to") is None:  # creation: 32000 plus 2 gas per 32-byte word of init code
        base += 32_000 + 2 * ((len(data) + 31) // 32)
    return base


def measure(url: str | None, statements: dict[int, Statement], circuit, log=print) -> dict:
    """Run both flows once on the chain at ``url`` (eth-tester when None) and return
    ``{"steps": [...], "per_prediction": [...], "code_size": {...}, ...}``. ``circuit`` is the
    toy circuit (``_toy_circuit``): the same proofs on every chain."""
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

    open_and_fulfil("first request / the provider's first payment")
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
    per_prediction = measure_batches(w3, market, statements, record, log)

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
        "per_prediction": per_prediction,
        "code_size": code_size,
        "code_size_limit": CODE_SIZE_LIMIT,
    }


def measure_batches(w3, market: Market, statements: dict[int, Statement], record, log=print) -> list[dict]:
    """Gas per verified prediction on the digits MLP: one request (openRequest + fulfil), and
    for each batch size a batch opened by one openRequests and by one openRequest per input,
    settled by one fulfilBatch. Whole transactions: base, calldata and execution."""
    deployer, provider, consumer = w3.eth.accounts[:3]
    single = statements[1]
    verifier, receipt = deploy_verifier(w3, single.vk, deployer)
    batch_verifiers = {}
    for n in BATCH_SIZES:
        batch_verifiers[n], receipt = deploy_batch_verifier(w3, statements[n].vk, deployer)
        record(
            f"deploy Groth16BatchVerifier ({n})",
            receipt,
            f"{len(statements[n].vk.ic) - 1} public inputs, key as a data contract",
        )
    model_commitment = _model_commitment()
    model_id = market.register_model(
        provider,
        model_commitment,
        verifier.address,
        PRICE,
        metadata_uri="digits://mlp",
        batch_verifiers=[batch_verifiers[n].address for n in BATCH_SIZES],
    )
    record("registerModel (3 batch verifiers)", market.last_receipt, "the digits MLP")
    rows = []

    def row(batch: int, opening: str, open_gas: list[int], fulfil_gas: int) -> None:
        per = (sum(open_gas) + fulfil_gas) / batch
        rows.append(
            {
                "batch": batch,
                "opening": opening,
                "open_gas": sum(open_gas),
                "fulfil_gas": fulfil_gas,
                "open_per_prediction": round(sum(open_gas) / batch),
                "fulfil_per_prediction": round(fulfil_gas / batch),
                "per_prediction": round(per),
            }
        )
        log(f"  batch {batch:2} {opening:13} {round(per):8,} gas per prediction")

    def deadline() -> int:
        return latest_timestamp(w3) + TIMEOUT

    (c, label, out) = single.requests[0]
    rid = market.open_request(consumer, model_id, c, deadline())
    open_gas = int(market.receipt["gasUsed"])
    record("openRequest (digits MLP)", market.receipt, "one slot, terms in the event")
    market.fulfil(provider, rid, single.proof, label, out)
    record("fulfil (digits MLP)", market.receipt, "Groth16Verifier, 4 public inputs")
    row(1, "openRequest", [open_gas], int(market.receipt["gasUsed"]))
    for n in BATCH_SIZES:
        st = statements[n]
        commitments = [r[0] for r in st.requests]
        rids = market.open_requests(consumer, model_id, commitments, deadline())
        open_gas = int(market.receipt["gasUsed"])
        record(f"openRequests ({n})", market.receipt, "one slot for the group")
        answers = [(r, label, out) for r, (_, label, out) in zip(rids, st.requests)]
        if len(market.fulfil_batch(provider, model_id, n, st.proof, answers)) != n:
            raise RuntimeError(f"the batch of {n} did not settle every request")
        record(f"fulfilBatch ({n}, one group)", market.receipt)
        row(n, "openRequests", [open_gas], int(market.receipt["gasUsed"]))

        singles, gas = [], []
        for commitment in commitments:
            singles.append(market.open_request(consumer, model_id, commitment, deadline()))
            gas.append(int(market.receipt["gasUsed"]))
        answers = [(r, label, out) for r, (_, label, out) in zip(singles, st.requests)]
        if len(market.fulfil_batch(provider, model_id, n, st.proof, answers)) != n:
            raise RuntimeError(f"the batch of {n} single requests did not settle every request")
        record(f"fulfilBatch ({n}, {n} single requests)", market.receipt)
        row(n, "openRequest", gas, int(market.receipt["gasUsed"]))
    return rows


def _model_commitment() -> int:
    from benchmarks.accuracy_retrieval import _digits
    from prover.circuit import statements as S

    return S.model_commitment(_digits(1)[0])


def table(result: dict) -> str:
    lines = [f"{'step':40} {'gas':>9} {'intrinsic':>9} {'execution':>9}  note"]
    for s in result["steps"]:
        lines.append(f"{s['step']:40} {s['gas']:9,} {s['intrinsic']:9,} {s['execution']:9,}  {s['note']}")
    lines.append("")
    lines.append(f"{'gas per verified prediction (digits MLP)':40} {'open':>9} {'fulfil':>9} {'total':>9}")
    for r in result["per_prediction"]:
        what = f"batch {r['batch']}, opened by {r['opening']}"
        lines.append(
            f"{what:40} {r['open_per_prediction']:9,} {r['fulfil_per_prediction']:9,} {r['per_prediction']:9,}"
        )
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


def plot(results: list[dict], path: Path) -> None:
    """An SVG of gas per prediction against batch size (log scale), one line per opening, with
    the figure before lean requests and the issue's targets."""
    rows = results[0]["per_prediction"]
    width, height, left, bottom, top = 640, 400, 70, 50, 20
    sizes = sorted({r["batch"] for r in rows})
    ymax = 450_000

    def x(batch: int) -> float:
        import math

        return left + (width - left - 20) * math.log2(batch) / math.log2(max(sizes))

    def y(gas: float) -> float:
        return height - bottom - (height - bottom - top) * gas / ymax

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{width - 20}" y2="{y(0)}" stroke="black"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{top}" stroke="black"/>',
        f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">requests per proof (batch size)</text>',
        f'<text x="15" y="{height / 2}" transform="rotate(-90 15 {height / 2})" text-anchor="middle">'
        "gas per verified prediction</text>",
    ]
    for gas in range(0, ymax + 1, 50_000):
        parts.append(f'<text x="{left - 6}" y="{y(gas) + 4}" text-anchor="end">{gas // 1000}k</text>')
    for n in sizes:
        parts.append(f'<text x="{x(n)}" y="{y(0) + 16}" text-anchor="middle">{n}</text>')
    for gas, label, colour in (
        (BEFORE_PER_PREDICTION, "before lean requests", "#999"),
        (75_000, "target, single opens, batch 32", "#c60"),
        (40_000, "target, openRequests, batch 64", "#090"),
    ):
        parts.append(
            f'<line x1="{left}" y1="{y(gas)}" x2="{width - 20}" y2="{y(gas)}" stroke="{colour}" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{width - 24}" y="{y(gas) - 4}" text-anchor="end" fill="{colour}">{label} ({gas:,})</text>'
        )
    for opening, colour in (("openRequest", "#c00"), ("openRequests", "#00c")):
        points = [(r["batch"], r["per_prediction"]) for r in rows if r["opening"] == opening or r["batch"] == 1]
        coords = " ".join(f"{x(n):.1f},{y(g):.1f}" for n, g in sorted(points))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, g in points:
            parts.append(f'<circle cx="{x(n):.1f}" cy="{y(g):.1f}" r="3" fill="{colour}"/>')
        n, g = max(points)
        parts.append(
            f'<text x="{x(n) - 6:.1f}" y="{y(g) - 8:.1f}" text-anchor="end" fill="{colour}">opened by {opening}</text>'
        )
    parts.append("</svg>")
    with atomic_output(path, "w") as out:
        out.write("\n".join(parts) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gas", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="measure on this JSON-RPC node only (default: eth-tester and a hardhat node)")
    parser.add_argument("--no-hardhat", action="store_true", help="eth-tester only")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "gas.json")
    args = parser.parse_args(argv)
    print("the digits MLP's statements: single and batches of " + ", ".join(map(str, BATCH_SIZES)))
    statements = mlp_statements()
    print("the toy circuit and its proofs (cached under benchmarks/.cache/gas)")
    toy = _toy_circuit()
    results = []
    if args.url:
        results.append(measure(args.url, statements, toy))
    else:
        results.append(measure(None, statements, toy))
        if not args.no_hardhat:
            sys.path.insert(0, str(REPO_ROOT / "tests"))
            from support.processes import hardhat_node

            with hardhat_node() as url:
                results.append(measure(url, statements, toy))
    for result in results:
        print(
            f"\n{result['chain']}, {result['compiler']}, evm {result['evm_version']}, proof by {result['proof_source']}"
        )
        print(table(result))
    if len(results) == 2:
        differ = [
            (a["step"], a["gas"], b["gas"])
            for a, b in zip(results[0]["steps"], results[1]["steps"])
            if a["gas"] != b["gas"]
        ]
        print("\nsteps whose gas differs between the chains (the contract addresses in their calldata differ):")
        for step, a, b in differ:
            print(f"  {step}: {a:,} / {b:,}")
    save({"chains": results}, args.out)
    svg = args.out.with_name("gas_per_prediction.svg")
    plot(results, svg)
    for path in (args.out, svg):
        print(f"saved {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

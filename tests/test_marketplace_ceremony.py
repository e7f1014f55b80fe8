"""The honest setup path: a phase-1 ceremony with the consumer's contribution, the model's key
written before phase 2 (`zkmarket provider setup`), the consumer's phase-2 contribution, and
the provider registering that key; the consumer then accepts the model without any insecure
flag, and a consumer whose contributions are not in the transcripts refuses it (slow: the
phase-1 prepare step takes minutes on two cores)."""

from __future__ import annotations

import pytest
from support.models import write_small_model

from marketplace.agents.consumer import Consumer
from marketplace.agents.provider import Provider
from marketplace.chain import connect
from marketplace.cli import main
from marketplace.contracts import Market
from marketplace.setup.pipeline import initial_key, phase1_ptau, prepare_model
from marketplace.store import ProviderStore, read_json
from prover.errors import VerificationError
from prover.formats import read_zkey, write_zkey

pytestmark = pytest.mark.slow


def test_contributed_key_registered_and_accepted_without_insecure_flags(tmp_path):
    onnx_path = tmp_path / "small.onnx"
    calibration = write_small_model(onnx_path)
    w3 = connect()
    deployer, provider_account, consumer_account, other_account = w3.eth.accounts[:4]
    market = Market.deploy(w3, deployer)
    quiet = dict(log=lambda m: None)
    consumer = Consumer(market, consumer_account, state_dir=tmp_path / "consumer", **quiet)

    phase1_ptau(12, [consumer], tmp_path / "cache", mode="ceremony", progress=False)
    (ptau_path,) = (tmp_path / "cache" / "ptau").glob("phase1_12_*.ptau")
    initial_key(onnx_path, ptau_path, tmp_path / "key0.zkey", calibration=calibration)
    write_zkey(consumer.contribute_phase2(read_zkey(tmp_path / "key0.zkey")), tmp_path / "key1.zkey")

    served = prepare_model(
        onnx_path,
        ptau_path=ptau_path,
        zkey_path=tmp_path / "key1.zkey",
        calibration=calibration,
        cache_dir=tmp_path / "cache",
        progress=False,
        **quiet,
    )
    provider = Provider(market, provider_account, served, ProviderStore(tmp_path / "provider"), progress=False, **quiet)
    provider.open_channel()
    try:
        model_id = provider.register(10**15)
        offer = consumer.inspect(model_id)  # both transcripts verified, both hold its contributions
        assert offer.setup_checked
        prediction = consumer.predict(offer, calibration[1], wait=provider.serve_once)
        assert not prediction.refunded and prediction.label is not None

        # a consumer that trusts only the phase-2 contribution refuses: phase 1 is someone else's
        other = Consumer(market, other_account, state_dir=tmp_path / "other", **quiet)
        other.trusted["phase2"] = list(consumer.trusted["phase2"])
        with pytest.raises(VerificationError, match="no phase-1 contribution you trust"):
            other.inspect(model_id)
        # ... and accepts once told to trust the phase-1 contribution as well (the CLI's `trust`)
        assert (
            main(
                [
                    "consumer",
                    "trust",
                    "--state",
                    str(tmp_path / "other"),
                    "--phase1",
                    *consumer.trusted["phase1"],
                    "--phase2",
                    *consumer.trusted["phase2"],
                ]
            )
            == 0
        )
        assert read_json(tmp_path / "other" / "consumer.json")["phase1"] == consumer.trusted["phase1"]
        assert Consumer(market, other_account, state_dir=tmp_path / "other", **quiet).inspect(model_id).setup_checked
    finally:
        provider.close()

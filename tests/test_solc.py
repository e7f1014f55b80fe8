"""The compiler adapter: one standard-JSON path for native solc and solcjs, with solcjs's
quirks hidden, checked by running what it compiles on a real EVM."""

from __future__ import annotations

import json

import pytest

from marketplace import solc
from marketplace.chain import connect
from marketplace.solc import CompilerError, compile_sources, find_compiler, parse_version

ADDER = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;
import {Base} from "./Base.sol";
contract Adder is Base {
    function add(uint256 a, uint256 b) external pure returns (uint256) { return a + b + OFFSET; }
}
"""
BASE = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;
contract Base { uint256 internal constant OFFSET = 7; }
"""


def test_version_strings_of_both_backends_parse_to_the_same_form():
    assert parse_version("0.8.28+commit.7893614a.Emscripten.clang") == "0.8.28"
    assert (
        parse_version("solc, the solidity compiler commandline interface\nVersion: 0.8.28+commit.7893614a.Linux.g++")
        == "0.8.28"
    )
    with pytest.raises(CompilerError, match="cannot read a solc version"):
        parse_version(">>> no version here")


def test_compiler_found_is_at_the_pinned_version():
    compiler = find_compiler()
    assert compiler.version == solc.pinned_version() == "0.8.28"
    assert compiler.backend in ("native", "solcjs")


def test_missing_native_compiler_is_a_typed_error_saying_what_to_do(monkeypatch):
    monkeypatch.setattr(solc, "_native_candidates", lambda: [])
    find_compiler.cache_clear()
    try:
        with pytest.raises(CompilerError, match="install it with py-solc-x"):
            find_compiler("native")
        # without a native compiler the default falls back to the pinned npm solc
        assert find_compiler().backend == "solcjs"
    finally:
        find_compiler.cache_clear()


def test_compiled_code_with_an_import_runs_on_the_evm():
    """solcjs's '>>>' notice does not reach the JSON parser, imports resolve among the given
    units, and the bytecode computes what the source says on py-evm."""
    out = compile_sources({"t/Adder.sol": ADDER, "t/Base.sol": BASE})
    assert set(out) == {"Adder", "Base"}
    w3 = connect()
    factory = w3.eth.contract(abi=out["Adder"]["abi"], bytecode=out["Adder"]["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    adder = w3.eth.contract(address=receipt["contractAddress"], abi=out["Adder"]["abi"])
    assert adder.functions.add(2, 3).call() == 12
    # the deployed code is the runtime object the compiler reported
    assert w3.eth.get_code(adder.address).hex().removeprefix("0x") == out["Adder"]["deployedBytecode"]


@pytest.mark.slow
def test_compile_is_deterministic_and_independent_of_comments():
    first = compile_sources({"t/Adder.sol": ADDER, "t/Base.sol": BASE})
    second = compile_sources({"t/Adder.sol": "// another comment\n" + ADDER, "t/Base.sol": BASE})
    assert first["Adder"]["bytecode"] == second["Adder"]["bytecode"]


def test_compile_error_is_reported_with_the_compilers_message():
    broken = ADDER.replace("a + b", "a + missingName")
    with pytest.raises(CompilerError, match="missingName"):
        compile_sources({"t/Adder.sol": broken, "t/Base.sol": BASE})


def test_unresolvable_import_is_a_compile_error():
    with pytest.raises(CompilerError, match="Base.sol"):
        compile_sources({"t/Adder.sol": ADDER})


def test_evm_version_is_pinned_in_the_request():
    request = solc.standard_input({"a.sol": BASE})
    assert request["settings"]["evmVersion"] == solc.EVM_VERSION == "cancun"
    assert request["settings"]["metadata"] == {"appendCBOR": False}


@pytest.mark.slow
def test_output_larger_than_a_pipe_buffer_arrives_whole():
    """node exits before flushing a pipe: a large standard-JSON output must still parse."""
    functions = "\n".join(
        f"    function a_long_function_name_to_make_the_abi_large_{i:04d}(uint256 x) external pure "
        f"returns (uint256) {{ return x + {i}; }}"
        for i in range(700)
    )
    source = f"// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\ncontract Wide {{\n{functions}\n}}\n"
    out = compile_sources({"t/Wide.sol": source})
    assert len(json.dumps(out["Wide"]["abi"])) > 128 * 1024
    assert len(out["Wide"]["abi"]) == 700

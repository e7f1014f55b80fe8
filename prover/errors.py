"""Typed errors. Each says what went wrong and what the user can do about it."""


class ZkmarketError(Exception):
    """Base of every error the tools report to a user as one line."""

    exit_code = 1


class FormatError(ZkmarketError):
    """A file is malformed, truncated or of the wrong kind."""


class VerificationError(ZkmarketError):
    """A proof, key or transcript failed a check."""


class CircuitError(ZkmarketError):
    """A circuit or witness is inconsistent (unsatisfied constraint, wrong size)."""


class UnsupportedModelError(ZkmarketError):
    """An ONNX model uses an operator or shape the compiler does not support."""


class ChainError(ZkmarketError):
    """The chain refused or could not be reached."""


class ValueRangeError(CircuitError):
    """A value left its tensor's declared bit bound: the input is outside the range the model
    was quantized for."""

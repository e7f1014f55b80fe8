"""Helpers shared by the test modules (their fixtures are in ``tests/conftest.py``)."""

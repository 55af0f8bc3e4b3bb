"""Shared fixtures (real servers, a fresh region per test) for tests/ and services/*/tests."""

pytest_plugins = ["tests.fixtures", "tests.three_regions"]

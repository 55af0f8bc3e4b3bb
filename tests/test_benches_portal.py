"""The portal's, the report's and the hostile texts' benchmarks, at a small size (see
tests/test_benches.py; a file of their own, so that the suite's processes share the
benchmarks' minutes)."""

from __future__ import annotations

import pytest

from tests.test_benches import PORTAL, runs_and_ends_with_its_figures


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", PORTAL)
def test_benchmark_runs_and_ends_with_its_figures(name: str) -> None:
    runs_and_ends_with_its_figures(name)

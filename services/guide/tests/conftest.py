"""guide's own tests run guide and the services it hears from, not the whole region."""

from __future__ import annotations

import pytest

from tests.fixtures import with_its_sources


@pytest.fixture
def region_services() -> list[str]:
    return with_its_sources("guide")

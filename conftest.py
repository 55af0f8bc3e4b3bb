"""Shared fixtures (real servers, a fresh region per test) for tests/ and services/*/tests."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures", "tests.three_regions"]

# Property tests judge what the code does, not how fast inputs come on a machine running the
# suite in more processes than it has cores: Hypothesis's timing checks (too_slow, deadline)
# failed a run that way, with nothing wrong in the code.
settings.register_profile("mapnet", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("mapnet")

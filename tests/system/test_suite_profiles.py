"""How much the suite runs: the hypothesis profiles (dev by default, ci in .ci/run) and the `wire` marker
(issue 27: test_fuzz.py took about 56 s on every local run; the marker was declared and never used)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from helpers import HYPOTHESIS_PROFILES, ROOT, examples, hypothesis_profile


@pytest.fixture
def profile():
    yield settings.load_profile
    settings.load_profile(hypothesis_profile())


def test_ci_runs_each_property_with_the_examples_it_was_written_for(profile):
    profile("ci")
    assert [examples(n) for n in (1500, 150, 12, 5)] == [1500, 150, 12, 5]


def test_dev_runs_a_tenth_and_never_fewer_than_ten(profile):
    profile("dev")
    assert [examples(n) for n in (1500, 150, 12, 5)] == [150, 15, 10, 5]


def test_the_default_profile_is_dev_and_a_wrong_name_is_refused(monkeypatch):
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    assert hypothesis_profile() == "dev"
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "thorough")
    with pytest.raises(ValueError, match=r"HYPOTHESIS_PROFILE='thorough'.*'ci', 'dev'"):
        hypothesis_profile()
    assert set(HYPOTHESIS_PROFILES) == {"ci", "dev"}


def test_ci_is_thorough():
    assert "export HYPOTHESIS_PROFILE=ci" in (ROOT / ".ci" / "run").read_text()


def test_the_http_run_of_the_eci_fixture_carries_the_wire_marker(eci, request):
    marked = request.node.get_closest_marker("wire") is not None
    assert marked == (eci.server is not None), request.node.nodeid

"""Adapters declare their own traits (issue 27 item 5): authentication and the webhook's notes read them
instead of lists of adapter names in events/auth.py and planning/confirm.py, so a new format (GitLab's
registry, say) is one new file whose TRAITS the rest of the product honours."""

from __future__ import annotations

import sys
import types

import pytest

from eci_redeploy.core.errors import AuthenticationError
from eci_redeploy.core.secrets import Secret
from eci_redeploy.events.adapters.fc_http import HttpRequest
from eci_redeploy.events.adapters.traits import NONE, Traits, traits
from eci_redeploy.events.auth import ReplayGuard, authenticate
from eci_redeploy.functions.webhook import _trust_notes

from helpers import push

PACKAGE = "eci_redeploy.events.adapters"


@pytest.fixture
def new_adapter(monkeypatch):
    """An adapter module the product does not have, as a new file would add it."""

    def add(name: str, declared: Traits) -> None:
        module = types.ModuleType(f"{PACKAGE}.{name.replace('-', '_')}")
        module.NAME, module.TRAITS = name, declared
        monkeypatch.setitem(sys.modules, module.__name__, module)

    return add


def auth(kinds, *, token="t0ken", headers=None):
    request = HttpRequest("POST", "/", b"{}", {"authorization": f"Bearer {token}", **(headers or {})})
    authenticate(request, kinds, token=Secret(token), hmac_secret=None, guard=ReplayGuard(), window=300)


def test_a_new_format_that_needs_the_hmac_is_refused_with_the_token_alone(new_adapter):
    new_adapter("gitlab-ci", Traits(needs_hmac=True))
    auth(frozenset({"harbor"}))  # a registry webhook: the token is enough
    with pytest.raises(AuthenticationError, match="HMAC secret is not configured"):
        auth(frozenset({"gitlab-ci"}))
    with pytest.raises(AuthenticationError, match="HMAC secret is not configured"):
        auth(frozenset({"generic"}))  # the CI call, as before


def test_a_new_unsigned_format_is_named_in_the_trust_notes(new_adapter):
    new_adapter("gitlab", Traits(unsigned=True))
    notes = _trust_notes([push(source="gitlab"), push(source="distribution")])
    assert "gitlab payloads are unsigned" in notes[0]
    assert "unsigned" not in notes[1]


def test_what_has_no_adapter_has_no_traits_and_a_broken_adapter_is_not_read_as_none(monkeypatch):
    assert traits("TimerTick") is NONE and traits("no-such-format") is NONE and traits("../x") is NONE
    assert traits("dockerhub").unsigned and not traits("dockerhub").needs_hmac

    def broken(name, *args):
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")

    monkeypatch.setattr("importlib.import_module", broken)
    with pytest.raises(ModuleNotFoundError):
        traits("generic")

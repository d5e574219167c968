"""Property-based fuzzing (hypothesis): every trigger adapter, the webhook function and the rules loader
take thousands of mutated and random inputs with zero unhandled exceptions and zero ECI calls from
invalid input."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eci_redeploy.adapters import parse_payload
from eci_redeploy.errors import EventError, RulesError
from eci_redeploy.pushevent import IgnoredEvent, PushEvent, RejectedEvent, TimerTick
from eci_redeploy.rules import parse_rules
from fcfixtures import TOKEN, fc_context, http_event

from helpers import EVENTS

SAMPLES = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))]
# ...and every registry payload of the corpus (tests/payloads/SOURCES.md).
SAMPLES += [json.loads(p.read_text()) for p in sorted((EVENTS.parent / "tests" / "payloads").glob("*-*.json"))]
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


def mutate(draw_value, value, depth=0):
    """Replace, drop or retype parts of a real sample."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            choice = draw_value(st.integers(0, 5))
            if choice == 0:
                continue  # dropped
            out[k] = draw_value(json_values) if choice == 1 else mutate(draw_value, v, depth + 1)
        return out
    if isinstance(value, list):
        return [mutate(draw_value, v, depth + 1) for v in value]
    return draw_value(json_values) if draw_value(st.integers(0, 3)) == 0 else value


@st.composite
def mutated_samples(draw):
    return mutate(draw, draw(st.sampled_from(SAMPLES)))


def parses_or_refuses(payload):
    """Either neutral events, or one EventError naming the input: never another exception."""
    try:
        result = parse_payload(payload, source="fuzz")
    except EventError as exc:
        assert str(exc).startswith("fuzz")
        return
    # A batch may reject some events (with their index) as long as something in it was read.
    assert result and all(isinstance(x, (PushEvent, IgnoredEvent, RejectedEvent, TimerTick)) for x in result)
    assert not all(isinstance(x, RejectedEvent) for x in result)


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_adapters_random_bytes(payload):
    parses_or_refuses(payload)


@FUZZ
@given(mutated_samples())
def test_adapters_mutated_samples(sample):
    parses_or_refuses(json.dumps(sample).encode())


@FUZZ
@given(json_values)
def test_adapters_random_json(value):
    parses_or_refuses(json.dumps(value).encode())


RULE = {
    "name": "web",
    "source": {"repository": "team/web", "tags": {"semver": "^1.0.0"}},
    "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "web"}},
    "pull": {"credentials": [{"server": "r.io", "username": "u", "password_env": "P"}], "plain_http": ["h:1"]},
    "rollout": {"batch_size": 2},
}


@FUZZ
@given(st.data())
def test_rules_loader_mutated_and_random(data):
    doc = data.draw(st.sampled_from([{"version": 1, "rules": [RULE]}, None]))
    doc = mutate(data.draw, doc) if doc else data.draw(json_values)
    try:
        parse_rules(doc, source="fuzz.yaml")
    except RulesError as exc:
        assert str(exc).startswith("fuzz.yaml")


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_webhook_function_never_crashes_and_invalid_input_never_reaches_ecI(fc, data):
    from eci_redeploy.handlers import webhook

    body = data.draw(
        st.one_of(
            mutated_samples().map(json.dumps),
            json_values.map(json.dumps),
            st.text(max_size=200),
        )
    )
    query = data.draw(st.sampled_from([{"token": TOKEN}, {}, {"token": "x"}, {"dry_run": "1", "token": TOKEN}]))
    before = len(fc.backend.calls)
    response = webhook.handle(http_event(body, query=query), fc_context(), default_rules=EVENTS)
    assert response["statusCode"] in (200, 202, 400, 401, 413, 422), response
    if response["statusCode"] in (400, 401, 413):
        assert len(fc.backend.calls) == before  # rejected input costs no ECI call


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_webhook_function_random_envelopes(fc, raw):
    from eci_redeploy.handlers import webhook

    response = webhook.handle(raw, fc_context(), default_rules=EVENTS)
    assert response["statusCode"] in (400, 401, 405, 413)
    assert fc.backend.calls == []

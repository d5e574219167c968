"""Property-based fuzzing (hypothesis): every trigger adapter, the webhook function and the rules loader
take thousands of mutated and random inputs with zero unhandled exceptions and zero ECI calls from
invalid input."""

import base64
import itertools
import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eci_redeploy.core.errors import EventError, RulesError
from eci_redeploy.core.imageref import ImageRef, validate_digest, validate_tag
from eci_redeploy.events.adapters import parse_payload
from eci_redeploy.events.model import IgnoredEvent, PushEvent, RejectedEvent, TimerTick
from eci_redeploy.rules.model import parse_rules
from fcfixtures import TOKEN, fc_context, http_event
from fuzzing import json_values, mutate

from helpers import EVENTS, examples

SAMPLES = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))]
# ...and every registry payload of the corpus (tests/payloads/SOURCES.md).
SAMPLES += [json.loads(p.read_text()) for p in sorted((EVENTS.parent / "tests" / "payloads").glob("*-*.json"))]


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


FUZZ = settings(max_examples=examples(1500), deadline=None, suppress_health_check=list(HealthCheck))


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


@settings(max_examples=examples(600), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_webhook_function_never_crashes_and_invalid_input_never_reaches_ecI(fc, data):
    from eci_redeploy.functions import webhook

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


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_webhook_function_random_envelopes(fc, raw):
    from eci_redeploy.functions import webhook

    response = webhook.handle(raw, fc_context(), default_rules=EVENTS)
    assert response["statusCode"] in (400, 401, 405, 413)
    assert fc.backend.calls == []


# ---- hostile input (issue 15): wrappings, non-finite times, trailing newlines, non-ASCII -------------------
# Every sample format, wrapped every way a payload can be (arrays, nested arrays, mixed batches, the FC
# HTTP envelope, base64), with string fields turned hostile one by one. The property that matters is
# not "no crash" alone: nothing that fails the OCI reference grammar ever comes out of an adapter, and
# so nothing of it can reach ECI.

HOSTILE = settings(max_examples=examples(250), deadline=None, suppress_health_check=list(HealthCheck))
PUSH_SAMPLES = [s for s in SAMPLES if "triggerName" not in s and "requestContext" not in s]
FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789abcdefghijklmnopqrstuvwxyz.:-_/"})


def hostile_string(draw, value):
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return value + "\n"
    if kind == 1:
        return value + draw(st.sampled_from(["\r\n", "\x00", " ", "\u2028", "\t"]))
    if kind == 2:
        return value.translate(FULLWIDTH)  # full-width forms: "1.0.63" -> U+FF11 U+FF0E U+FF10 ...
    if kind == 3:
        return draw(st.sampled_from(["版本", "v1.\u0663", "é", "\u0130", "ß"])) + value
    if kind == 4:
        return draw(st.text(min_size=1, max_size=12))
    if kind == 5:
        return " " + value
    if kind == 6:
        return draw(
            st.sampled_from(["md5:" + "0" * 32, "sha256:" + "0" * 63, "sha512:" + "0" * 64, "SHA256:" + "0" * 64])
        )
    return value


def spoil_strings(draw, value, share):
    """Each string (and number, for times) anywhere in the payload, hostile with probability `share`."""
    if isinstance(value, dict):
        return {k: spoil_strings(draw, v, share) for k, v in value.items()}
    if isinstance(value, list):
        return [spoil_strings(draw, v, share) for v in value]
    if draw(st.floats(0, 1)) >= share:
        return value
    if isinstance(value, str):
        return hostile_string(draw, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return draw(st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1, 0]))
    return value


def wrap(draw, items):
    """An array, a nested array, or the FC HTTP envelope (maybe base64) around a body."""
    kind = draw(st.integers(0, 4))
    body = items[0] if len(items) == 1 else items
    if kind == 0:
        return body
    if kind == 1:
        return list(items)
    if kind == 2:
        return [list(items)]
    text = json.dumps(body)
    encoded = kind == 4
    return {
        "version": "v1",
        "rawPath": "/",
        "body": base64.b64encode(text.encode()).decode() if encoded else text,
        "isBase64Encoded": encoded,
        "headers": {"Content-Type": "application/json"},
        "queryParameters": {},
        "requestContext": {"requestId": "r", "http": {"method": "POST", "path": "/", "sourceIp": "127.0.0.1"}},
    }


@st.composite
def hostile_payloads(draw):
    items = [draw(st.sampled_from(PUSH_SAMPLES)) for _ in range(draw(st.integers(1, 3)))]
    share = draw(st.sampled_from([0.0, 0.1, 0.3, 1.0]))
    return wrap(draw, [spoil_strings(draw, item, share) for item in items])


def grammar_holds(event):
    validate_tag(event.tag) if event.tag is not None else None
    validate_digest(event.digest) if event.digest is not None else None
    for digest in event.equivalent:
        validate_digest(digest)
    host = f"{event.registry_host}/" if event.registry_host else ""
    ImageRef.parse(f"{host or 'example.invalid/'}{event.repository}")


@HOSTILE
@given(hostile_payloads())
def test_adapters_never_emit_what_the_grammar_refuses(payload):
    raw = json.dumps(payload, allow_nan=True).encode()  # NaN / Infinity literals as some encoders write them
    try:
        result = parse_payload(raw, source="fuzz")
    except EventError as exc:
        assert str(exc).startswith("fuzz")
        return
    for item in result:
        if isinstance(item, PushEvent):
            grammar_holds(item)
            assert item.time is None or item.time.year >= 1970


@HOSTILE
@given(st.data())
def test_webhook_auth_follows_the_payload_kind_whatever_wraps_it(fc, data):
    from eci_redeploy.events.adapters import parse_body
    from eci_redeploy.functions import webhook
    from fcfixtures import signed_headers

    items = [data.draw(st.sampled_from(PUSH_SAMPLES)) for _ in range(data.draw(st.integers(1, 3)))]
    share = data.draw(st.sampled_from([0.0, 0.0, 0.2]))
    items = [spoil_strings(data.draw, item, share) for item in items]
    body = data.draw(st.sampled_from(["flat", "array", "nested"]))
    shaped = items[0] if body == "flat" and len(items) == 1 else ([items] if body == "nested" else items)
    raw = json.dumps(shaped).encode()
    signed, token = data.draw(st.booleans()), data.draw(st.booleans())
    headers = signed_headers(raw) if signed else {}
    query = {"token": TOKEN} if token else {}
    webhook.GUARD.__init__()
    before = len(fc.backend.calls)
    response = webhook.handle(http_event(raw, headers=headers, query=query), fc_context(), default_rules=EVENTS)
    status = response["statusCode"]
    assert status in (200, 202, 400, 401, 422), response
    try:
        kinds = {getattr(p, "source", "") for p in parse_body(json.loads(raw), source="x")}
    except EventError:
        kinds = None
    if kinds is not None and "generic" in kinds and not signed:
        assert status == 401  # a CI call, however wrapped, is never accepted on the token alone
    if kinds is not None and kinds - {"generic"} and not token:
        assert status == 401
    if status in (400, 401):
        assert len(fc.backend.calls) == before
    for call in fc.backend.calls[before:]:
        for key, value in call.params.items():
            if key.endswith(".Image"):
                ImageRef.parse(value)  # whatever was sent parses under the strict grammar


@HOSTILE
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e9", "+1", "-0", "\u0661", "1_000"]),
        st.text(max_size=14),
    )
)
def test_signed_call_timestamps_must_be_finite_decimal_seconds(fc, stamp):
    import re

    from eci_redeploy.events.auth import sign
    from eci_redeploy.functions import webhook
    from fcfixtures import HMAC_SECRET

    raw = (EVENTS / "generic-ci.json").read_bytes()
    webhook.GUARD.__init__()
    try:
        headers = {"X-Eci-Redeploy-Timestamp": stamp, "X-Eci-Redeploy-Signature": sign(HMAC_SECRET, stamp, raw)}
        response = webhook.handle(http_event(raw, headers=headers), fc_context(), default_rules=EVENTS)
    except UnicodeEncodeError:
        return  # a header Python cannot even encode (lone surrogates) never arrives over HTTP
    if not re.fullmatch(r"[0-9]{1,12}(?:\.[0-9]{1,9})?", stamp):
        assert response["statusCode"] == 401, response
    assert fc.mutations() == [] or response["statusCode"] == 202


FUNCTIONS_FOREIGN = [s for s in SAMPLES if "specversion" not in s]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_push_and_timer_functions_refuse_what_is_not_their_trigger(fc, data):
    from eci_redeploy.functions.push_worker import handle_push
    from eci_redeploy.functions.timer import handle_tick

    sample = data.draw(st.sampled_from(FUNCTIONS_FOREIGN))
    payload = wrap(data.draw, [spoil_strings(data.draw, sample, data.draw(st.sampled_from([0.0, 0.2])))])
    raw = json.dumps(payload).encode()
    result = handle_push(raw, fc_context("push"), default_rules=EVENTS)
    assert result["ok"] is False and fc.backend.calls == []
    if not (isinstance(payload, dict) and "triggerName" in payload and "triggerTime" in payload):
        result = handle_tick(raw, fc_context("timer"), default_rules=EVENTS)
        assert result["ok"] is False and "timer-trigger events only" in result["error"]
        assert fc.backend.calls == []


@HOSTILE
@given(st.data())
def test_rules_with_hostile_strings_are_refused_or_hold_the_grammar(data):
    doc = spoil_strings(data.draw, {"version": 1, "rules": [RULE]}, data.draw(st.sampled_from([0.1, 0.3, 1.0])))
    try:
        rules = parse_rules(doc, source="fuzz.yaml")
    except RulesError as exc:
        assert str(exc).startswith("fuzz.yaml")
        return
    for r in rules:
        ImageRef.parse(f"example.invalid/{r.source.repository}")
        for host in r.pull.plain_http + r.pull.insecure + r.pull.public:
            assert host.isascii() and "\n" not in host


# ---- time fields (issue 23 item 1): whatever a payload says the push time is, the product's clock bounds it ----

# Where each sample in events/ carries its push time (the formats' published field names: Distribution
# `events[].timestamp`, ACR webhook `push_data.pushed_at`, CloudEvents `time`, Docker Hub
# `push_data.pushed_at`, Harbor `occur_at`, the generic call's `time`).
TIME_FIELDS = {
    "distribution-push.json": lambda d, v: [e.__setitem__("timestamp", v) for e in d["events"]],
    "acr-webhook.json": lambda d, v: d["push_data"].__setitem__("pushed_at", v),
    "acr-ee-push.json": lambda d, v: d.__setitem__("time", v),
    "dockerhub-push.json": lambda d, v: d["push_data"].__setitem__("pushed_at", v),
    "harbor-push.json": lambda d, v: d.__setitem__("occur_at", v),
    "generic-ci.json": lambda d, v: d.__setitem__("time", v),
}
TIMED = {name: json.loads((EVENTS / name).read_text()) for name in TIME_FIELDS}
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
zones = st.sampled_from(["Z", "+00:00", "+08:00", "-12:00", "+14:00", ""])
time_values = (
    st.builds(lambda t, z: t.isoformat() + z, instants, zones)
    | st.builds(lambda t, z: t.strftime("%Y-%m-%d %H:%M:%S") + z, instants, zones)  # ACR's local wall-clock form
    | st.builds(lambda t: t.isoformat() + ".123456789Z", instants)  # nanoseconds, as Distribution sends
    | st.integers(min_value=-(2**63), max_value=2**63)  # epoch seconds or milliseconds, and beyond
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.none()
)
PUSHES = itertools.count(1)
TIME_FUZZ = settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))


@TIME_FUZZ
@given(st.sampled_from(sorted(TIME_FIELDS)), time_values)
def test_a_push_time_is_never_later_than_its_receipt_beyond_the_skew(name, value):
    sample = json.loads(json.dumps(TIMED[name]))
    TIME_FIELDS[name](sample, value)
    try:
        parsed = parse_payload(json.dumps(sample).encode(), source="fuzz")
    except EventError as exc:
        assert str(exc).startswith("fuzz")
        return
    ceiling = datetime.now(timezone.utc) + timedelta(minutes=5)
    for p in parsed:
        if isinstance(p, PushEvent) and p.time is not None:
            assert p.time <= ceiling, (value, p.time)  # nothing later than receipt + the skew gets through
        if isinstance(p, RejectedEvent) and "later than its receipt" in p.reason:
            assert "ECI_REDEPLOY_MAX_CLOCK_SKEW_SECONDS" in p.reason


@TIME_FUZZ
@given(time_values)
def test_the_webhook_never_changes_ECI_for_a_push_dated_past_its_receipt(fc, value):
    from eci_redeploy.events.adapters.base import parse_time
    from eci_redeploy.functions import webhook

    sample = json.loads(json.dumps(TIMED["distribution-push.json"]))
    TIME_FIELDS["distribution-push.json"](sample, value)
    # a digest of its own per example: the group (kept across examples) never already runs it
    sample["events"][1]["target"]["digest"] = f"sha256:{next(PUSHES):064x}"
    fc.backend.calls.clear()
    webhook.GUARD.__init__()
    response = webhook.handle(
        http_event(json.dumps(sample), query={"token": TOKEN}), fc_context(), default_rules=EVENTS.parent
    )
    assert response["statusCode"] < 500, response
    when = parse_time(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if when is not None and when > datetime.now(timezone.utc) + timedelta(minutes=5):
        assert fc.backend.mutating_calls() == [], value


@TIME_FUZZ
@given(instants, st.integers(min_value=0, max_value=7 * 24 * 60))
def test_no_push_time_shortens_or_lengthens_a_soak(pushed, minutes):
    """Issue 23 item 2: whatever push time a payload claims, a soak ends exactly its length after the
    product first saw the change (the hold's creation)."""
    from eci_redeploy.gates.evaluate import Change, Evidence, evaluate
    from eci_redeploy.rules.gates import Gates

    gates = Gates.model_validate({"soak": "2h"})
    seen = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    now = seen + timedelta(minutes=minutes)
    change = Change("r", "sha256:" + "a" * 64, pushed.replace(tzinfo=timezone.utc), seen)
    decision = evaluate(gates, change, Evidence(), now)
    assert decision.verdict == ("go" if minutes >= 120 else "held")


# ---- issue 23 item 5: region and host fields (tests/system/test_trust_hosts.py has each reported attack) -------
# Whatever a payload puts in a field that becomes part of a host name, either the adapter refuses it
# (naming the field) or the host the product would connect to is exactly the one the grammar implies:
# `cr.<region>.aliyuncs.com` with no userinfo, port, path or fragment smuggled in, a registry host
# that is the whole authority of its URL. Modest by default: 200 examples per property.

HOSTS = settings(max_examples=examples(200), deadline=None, suppress_health_check=list(HealthCheck))
_HOST_CHARS = st.sampled_from([*"abcz09-.:@/#?%[]\\ _", "\n", "\x00", "\u3002", "\uff0e", "é"])
PLACE_ATTACKS = [
    "x@127.0.0.1:1/#",
    "127.0.0.1:1/#",
    "cn-hangzhou.evil.example#",
    "cn-hangzhou\n",
    "cn-hangzhou/..",
    "evil.example@127.0.0.1",
    "[::1]:1",
    "a" * 64,
    "cn-hangzhou:443",
    "%2e%2e",
    "cn\u3002hangzhou",
]
place_text = st.one_of(
    st.sampled_from(PLACE_ATTACKS),
    st.text(_HOST_CHARS, min_size=1, max_size=40),
    st.sampled_from(["cn-hangzhou", "ap-southeast-1", "cn-shanghai-finance-1"]),
)
# (sample, where the field sits): every payload field that names a region, an instance or a host.
PLACES = [
    ("acr-webhook.json", ("repository", "region")),
    ("acr-ee-push.json", ("data", "RegionId")),
    ("acr-ee-push.json", ("aliyunregionid",)),
    ("acr-ee-push.json", ("data", "InstanceId")),
    ("acr-ee-push.json", ("data", "InstanceName")),
    ("distribution-push.json", ("events", 1, "request", "host")),
]


def _put(sample, path, value):
    target = sample
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return sample


def _connects_to_what_it_says(event):
    from urllib.parse import urlsplit

    from eci_redeploy.core.hosts import api_host
    from eci_redeploy.planning.registry_kinds import enterprise_host

    if event.region is not None:
        url = urlsplit(f"https://{api_host('cr', event.region)}/")
        assert url.hostname == f"cr.{event.region}.aliyuncs.com" and url.port is None and not url.username
    if event.instance_name is not None and event.region is not None:
        host = enterprise_host(event.instance_name, event.region)
        assert urlsplit(f"https://{host}/").hostname == host
    if event.instance_id is not None:
        assert event.instance_id.startswith("cri-") and event.instance_id[4:].isalnum()
    if event.registry_host is not None:
        url = urlsplit(f"https://{event.registry_host}/v2/")
        assert url.netloc == event.registry_host and url.path == "/v2/" and not url.username


@HOSTS
@given(st.sampled_from(PLACES), place_text)
def test_host_forming_fields_are_refused_or_name_exactly_their_host(place, value):
    name, path = place
    sample = _put(json.loads((EVENTS / name).read_text()), path, value)
    try:
        result = parse_payload(json.dumps(sample).encode(), source="fuzz")
    except EventError as exc:
        assert str(exc).startswith("fuzz")
        return
    for item in result:
        if isinstance(item, PushEvent):
            _connects_to_what_it_says(item)


@HOSTS
@given(st.sampled_from(["region", "instance_id", "instance_name", "registry_host"]), place_text)
def test_a_work_order_holds_its_host_fields_to_the_same_grammar(field, value):
    from pydantic import ValidationError

    from eci_redeploy.execution.handoff import WorkOrder

    event = {"repository": "team/api", "tag": "2.3.1", "source": "acr-webhook", "event_id": "e1", field: value}
    try:
        order = WorkOrder.model_validate({"kind": "eci-redeploy/work-order", "task_id": "er-x", "events": [event]})
    except ValidationError:
        return
    for item in order.push_events():
        _connects_to_what_it_says(item)

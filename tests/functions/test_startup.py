"""The cold start imports with the cyclic collector paused (functions/startup.py): the pause must end
whatever happens, a failed import must not count as warmed, rules that do not load are left for the
handler to report, and in a fresh interpreter the matched push leaves the collector on, at its
default thresholds, with the startup heap frozen, while an unwatched one pauses and imports nothing."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

import pytest

from eci_redeploy.functions import runtime, startup

from helpers import EVENTS, EXAMPLES, ROOT, clean_env


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(startup, "_warmed", set())
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("warm_probe")]:
        del sys.modules[name]
    gc.unfreeze()  # what these tests froze goes back to the collections of the test process


def test_warm_imports_with_the_collector_paused_and_turns_it_back_on(module_dir):
    (module_dir / "warm_probe_a.py").write_text("import gc\nPAUSED = not gc.isenabled()\n")
    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    startup.warm("warm_probe_a")
    assert sys.modules["warm_probe_a"].PAUSED is True
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen  # the module's objects left the collections


def test_warm_is_once_per_module(module_dir):
    (module_dir / "warm_probe_b.py").write_text("")
    startup.warm("warm_probe_b")
    del sys.modules["warm_probe_b"]
    startup.warm("warm_probe_b")
    assert "warm_probe_b" not in sys.modules  # not imported a second time


def test_a_collector_turned_off_by_the_caller_stays_off(module_dir):
    (module_dir / "warm_probe_c.py").write_text("")
    gc.disable()
    try:
        startup.warm("warm_probe_c")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_import_ends_the_pause_freezes_nothing_and_is_tried_again(module_dir):
    (module_dir / "warm_probe_d.py").write_text("raise RuntimeError('broken at import')\n")
    gc.unfreeze()
    with pytest.raises(RuntimeError, match="broken at import"):
        startup.warm("warm_probe_d")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # a retry must not pin the failed attempt's leftovers
    assert "warm_probe_d" not in startup._warmed
    (module_dir / "warm_probe_d.py").write_text("FIXED = True\n")
    sys.modules.pop("warm_probe_d", None)
    startup.warm("warm_probe_d")
    assert sys.modules["warm_probe_d"].FIXED


def test_rules_are_loaded_into_the_handlers_cache(module_dir, tmp_path):
    (module_dir / "warm_probe_e.py").write_text("")
    rules = tmp_path / "rules.yaml"
    rules.write_text((EXAMPLES / "rules.yaml").read_text())
    (tmp_path / "templates").mkdir()
    for template in (EXAMPLES / "templates").iterdir():
        (tmp_path / "templates" / template.name).write_text(template.read_text())
    runtime._rules_cache.pop(str(rules), None)
    startup.warm("warm_probe_e", rules=rules)
    assert str(rules) in runtime._rules_cache  # loaded during the pause, where the handler looks
    assert [r.name for r in runtime._rules_cache[str(rules)][1]] == ["web-prod", "api-staging"]


def test_rules_that_do_not_load_are_left_for_the_handler_to_report(module_dir, tmp_path, monkeypatch):
    from eci_redeploy.functions import entry

    (module_dir / "warm_probe_f.py").write_text("")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [ {source: {repository: team/web}\n")  # names the pushed path: no fast answer
    startup.warm("warm_probe_f", rules=rules)  # no exception here: the handler reports it
    assert gc.isenabled()
    assert str(rules) not in runtime._rules_cache
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(rules))
    monkeypatch.setattr(entry, "warm", lambda *a, **k: startup.warm("warm_probe_f", rules=rules))
    result = entry.push((EVENTS / "acr-ee-push.json").read_bytes(), None, default_rules=rules)
    assert result["ok"] is False
    assert "not valid YAML" in result["error"] and "rules.yaml" in result["error"]


def test_two_threads_warming_at_once_leave_the_collector_on(module_dir, monkeypatch):
    """Thread B reads the collector's state while A has it paused; without the lock B would restore
    "off" after A turned it back on."""
    import threading
    import time
    import types

    (module_dir / "warm_probe_slow.py").write_text("import time\ntime.sleep(0.2)\n")
    (module_dir / "warm_probe_quick.py").write_text("")

    def isenabled():
        state = gc.isenabled()
        if threading.current_thread().name == "B":
            time.sleep(0.4)  # a thread switch right after the read
        return state

    monkeypatch.setattr(
        startup,
        "gc",
        types.SimpleNamespace(isenabled=isenabled, disable=gc.disable, enable=gc.enable, freeze=gc.freeze),
    )
    a = threading.Thread(target=startup.warm, args=("warm_probe_slow",), name="A")
    b = threading.Thread(target=startup.warm, args=("warm_probe_quick",), name="B")
    a.start()
    time.sleep(0.05)
    b.start()
    a.join()
    b.join()
    assert gc.isenabled()


def test_each_path_warms_the_sdk_it_will_use():
    assert "alibabacloud_eci20180808.client" in startup.push_modules({})
    fc3 = startup.push_modules({"ECI_REDEPLOY_WORKER_FUNCTION": "eci-redeploy-worker"})
    assert "alibabacloud_fc20230330.client" in fc3
    assert "alibabacloud_eci20180808.client" not in fc3  # the worker imports it, not the push function
    fc2 = startup.push_modules({"ECI_REDEPLOY_WORKER_FUNCTION": "w", "ECI_REDEPLOY_WORKER_SERVICE": "s"})
    assert "fc2" in fc2 and "alibabacloud_fc20230330.client" not in fc2
    assert startup.hand_off_modules({}) == ()


PROBE = textwrap.dedent(
    """
    import gc, importlib.util, json, sys
    sys.path[:0] = [{shared!r}]
    paused = {{}}  # module -> whether the collector was paused when its import began

    class Recorder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            paused.setdefault(name, not gc.isenabled())
            return None

    sys.meta_path.insert(0, Recorder)
    spec = importlib.util.spec_from_file_location("fc_index", {index!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from types import SimpleNamespace
    result = module.handler(open({event!r}, "rb").read(), SimpleNamespace(request_id="t", credentials=None))
    print(json.dumps({{
        "result": result,
        "enabled": gc.isenabled(),
        "threshold": gc.get_threshold(),
        "frozen": gc.get_freeze_count(),
        "paused": paused,
    }}))
    """
)
HEAVY = ("pydantic", "alibabacloud_eci20180808.client", "eci_redeploy.rules.model", "eci_redeploy.pipeline")


def run_function(name, event, env):
    code = PROBE.format(shared=str(ROOT / "shared"), index=str(ROOT / "functions" / name / "index.py"), event=event)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def live_env(endpoint):
    return clean_env(
        ECI_REDEPLOY_RULES=str(EXAMPLES / "rules.yaml"),
        ECI_REDEPLOY_ECI_ENDPOINT=endpoint,
        ALIBABA_CLOUD_ACCESS_KEY_ID="fake-access-key-id",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="fake-access-key-secret",
    )


def assert_warmed(seen):
    defaults = subprocess.run(
        [sys.executable, "-c", "import gc; print(list(gc.get_threshold()))"], capture_output=True, text=True
    ).stdout
    assert {m: seen["paused"].get(m) for m in HEAVY} == dict.fromkeys(HEAVY, True)  # imported during the pause
    assert seen["enabled"] is True
    assert seen["threshold"] == json.loads(defaults)
    assert seen["frozen"] > 10_000  # the SDK, pydantic and the rules model left the collections


def test_a_cold_matched_push_imports_during_the_pause_and_applies_with_the_collector_on(fake_eci_process):
    seen = run_function("push", str(EVENTS / "acr-ee-push.json"), live_env(fake_eci_process))
    assert seen["result"]["ok"] is True, seen["result"]
    assert [a["status"] for a in seen["result"]["actions"]] == ["applied", "applied"]
    assert_warmed(seen)


def test_a_cold_worker_imports_during_the_pause_and_applies_with_the_collector_on(fake_eci_process, tmp_path):
    from eci_redeploy.events.adapters import parse_body
    from eci_redeploy.events.triggers import eventbridge_events
    from eci_redeploy.execution.handoff import WorkOrder
    from eci_redeploy.planning.decide import push_events

    raw = eventbridge_events((EVENTS / "acr-ee-push.json").read_bytes())
    order = tmp_path / "order.json"
    order.write_text(WorkOrder.for_events(push_events(parse_body(raw, source="eventbridge"))).model_dump_json())
    seen = run_function("worker", str(order), live_env(fake_eci_process))
    assert seen["result"]["ok"] is True, seen["result"]
    assert [a["status"] for a in seen["result"]["actions"]] == ["applied", "applied"]
    assert_warmed(seen)


def test_a_cold_unwatched_push_pauses_nothing_and_imports_nothing(tmp_path):
    event = json.loads((EVENTS / "acr-ee-push.json").read_text())
    event["data"]["RepoName"] = "not-watched"
    path = tmp_path / "unwatched.json"
    path.write_text(json.dumps(event))
    seen = run_function("push", str(path), clean_env(ECI_REDEPLOY_RULES=str(EXAMPLES / "rules.yaml")))
    assert seen["result"]["ok"] is True
    assert seen["result"].get("actions", []) == []
    assert seen["frozen"] == 0
    assert seen["enabled"] is True
    assert not any(seen["paused"].values())
    assert not set(HEAVY) & set(seen["paused"])

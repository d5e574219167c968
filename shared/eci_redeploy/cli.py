"""The `eci-redeploy` command (documented in docs/cli.md). Errors are caught once, in `main`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .core.errors import EciRedeployError, InputError


def _read_event(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", source=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=path) from None


def _emit(data: Any) -> None:
    from .core.secrets import dumps_masked

    click.echo(dumps_masked(data, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eci-redeploy")
def cli() -> None:
    """Redeploy Alibaba Cloud ECI container groups when an image is pushed."""


@cli.command()
@click.argument("rules_file", metavar="RULES")
def validate(rules_file: str) -> None:
    """Check a rules file (and the templates it names)."""
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    click.echo(f"{rules_file}: {len(rules)} rule(s) valid")
    for rule in rules:  # what each rule deploys, read back from the parsed policy
        policy = rules.policy(rule)
        said = policy.describe(rule.allow_downgrade) + _update_summary(rule)
        click.echo(f"  {rule.name}: {rule.source.repository} {said} -> {_target_text(rule)}")
        for warning in policy.warnings():
            click.echo(f"    warning: {warning}")


def _update_summary(rule: Any) -> str:
    """The rule's `update` section when it is not the default, as `validate` reads it back."""
    said = []
    if rule.update.containers == "full":
        said.append("changed containers resent in full")
    if rule.update.restart_policy_never == "in-place":
        said.append("RestartPolicy Never groups changed in place")
    return f"; {'; '.join(said)}" if said else ""


def _target_text(rule: Any) -> str:
    target = rule.target
    if target.scaling_group is not None:
        return f"scaling group {target.scaling_group.label} in {target.region} (configuration and instances)"
    selector = target.container_groups
    if selector is None:
        return f"{target.action}: a new group from {target.template}"
    if selector.ids:
        which = "ids " + ", ".join(selector.ids)
    elif selector.name:
        which = selector.name  # as the README's walk-through shows it: `container groups api`
    else:
        which = "tagged " + ", ".join(f"{k}={v}" for k, v in (selector.tags or {}).items())
    owned = " (and scaling groups' instances)" if target.allow_owned else ""
    return f"{target.action} container groups {which}{owned} in {target.region}"


@cli.command()
def schema() -> None:
    """Print the rules file's JSON Schema (for editors)."""
    from .rules.model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _load(event_file: str, rules_file: str, state_file: str | None) -> tuple[Any, Any, Any]:
    from .clients.eci_model import load_state
    from .events.adapters import parse_payload
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    parsed = parse_payload(_read_event(event_file), source=event_file)
    groups = load_state(state_file) if state_file else []
    return rules, parsed, groups


@cli.command()
@click.argument("event_file", metavar="EVENT_FILE")
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="existing container groups: a DescribeContainerGroups body")
@click.option("--live", is_flag=True, help="read the container groups from the real ECI API")
def plan(event_file: str, rules_file: str, state_file: str | None, live: bool) -> None:
    """Show what a payload would change, with the exact ECI parameters. Changes nothing."""
    from .execution.executor import Preview
    from .pipeline import run

    rules, parsed, groups = _load(event_file, rules_file, state_file)
    gateway = None
    if live:
        from .clients.eci import EciGateway

        gateway, groups = EciGateway.from_env(), None  # observed through the gateway
    # What the gates would hold (nothing recorded, nobody told: a plan changes nothing).
    _emit(run(parsed, rules, gateway, os.environ, executor=Preview(), groups=groups).plan.to_json())


def transition_option(scope: str) -> Any:
    """--transition-seconds, the same for invoke, serve (the embedded fake) and fake-eci."""
    return click.option(
        "--transition-seconds",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help=f"{scope}seconds a changed group stays Pending / Updating / Restarting",
    )


@cli.command()
@click.argument("event_file", metavar="EVENT_FILE")
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="seed the embedded fake ECI with these container groups")
@click.option("--live", is_flag=True, help="apply against the real ECI API instead of the embedded fake")
@click.option("--dry-run", is_flag=True, help="plan against the target and show the plan; apply nothing")
@transition_option("embedded fake: ")
def invoke(
    event_file: str, rules_file: str, state_file: str | None, live: bool, dry_run: bool, transition_seconds: float
) -> None:
    """Plan and apply a payload: against the embedded fake ECI, or the real API with --live."""
    from .core import progress
    from .execution.executor import DryRun
    from .pipeline import run, run_serialised

    rules, parsed, groups = _load(event_file, rules_file, state_file)
    if live:
        from .clients.eci import EciGateway

        gateway = EciGateway.from_env()
    else:
        from .fake.embedded import embedded_gateway

        gateway = embedded_gateway(groups, transition_seconds=transition_seconds)
    progress.enable(sys.stderr)  # batch n/m, waiting for health: the JSON comes at the end
    if dry_run:
        report = run(parsed, rules, gateway, os.environ, executor=DryRun())
    else:  # through the single writer, as `serve` and the worker apply
        report = run_serialised(parsed, rules, gateway, os.environ)
    _emit(report.to_json())
    if report.failed:
        sys.exit(1)


@cli.command()
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="seed the embedded fake ECI with these container groups")
@click.option("--live", is_flag=True, help="converge the real ECI API instead of the embedded fake")
@click.option("--dry-run", is_flag=True, help="show what would change; apply nothing")
def reconcile(rules_file: str, state_file: str | None, live: bool, dry_run: bool) -> None:
    """Converge every rule's targets on the image its registry says it wants now (what the timer runs)."""
    from .core import progress
    from .execution.executor import executor_for
    from .functions.timer import run_reconcile
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    gateway = _gateway(state_file, live)
    progress.enable(sys.stderr)
    result = run_reconcile(rules, os.environ, gateway=gateway, executor=executor_for(dry_run))
    _emit(result.to_json())
    for problem in result.problems:  # also on stderr: a cron job's mail shows stderr
        click.echo(f"eci-redeploy: reconcile: {problem['rule']}: {problem['reason']}", err=True)
    if result.report.failed or result.problems:
        sys.exit(1)


def _gateway(state_file: str | None, live: bool, **fake: Any) -> Any:
    """The real ECI API (--live: ECI_REDEPLOY_ECI_ENDPOINT may point it at `fake-eci`), else the
    embedded fake seeded from --state (changes made there vanish when the command exits)."""
    if live:
        from .clients.eci import EciGateway

        return EciGateway.from_env()
    from .clients.eci_model import load_state
    from .fake.embedded import embedded_gateway

    return embedded_gateway(load_state(state_file) if state_file else [], **fake)


def _registries() -> Any:
    from .functions.runtime import registry_clients

    budget = int(os.environ.get("ECI_REDEPLOY_REGISTRY_MAX_REQUESTS", "50"))
    return registry_clients(os.environ, None, max_requests=budget)


@contextlib.contextmanager
def _registry_fix(rule: Any, host: str) -> Iterator[None]:
    """A registry error of `test-policy` or `rollback` says what to change, as reconcile's problems do."""
    from .clients.registry_api import RegistryError, problem_kind
    from .planning.hints import registry_fix

    try:
        yield
    except RegistryError as exc:
        raise type(exc)(f"{exc.one_line()}: {registry_fix(rule, host, problem_kind(exc))}") from None


def _rule(rules: Any, name: str) -> Any:
    rule = rules.rule(name)
    if rule is None:
        raise InputError(f"no rule named {name!r} (rules: {', '.join(r.name for r in rules)})", source="RULE")
    return rule


@cli.command("list")
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="container groups as a DescribeContainerGroups body")
@click.option("--live", is_flag=True, help="read the container groups from the real ECI API")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table")
def list_(rules_file: str, state_file: str | None, live: bool, as_json: bool) -> None:
    """Per rule: its groups, what each runs, the newest allowed tag, and what the next reconcile would do."""
    from .operations import inventory
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    body = inventory.inventory(rules, _gateway(state_file, live), _registries(), os.environ)
    if as_json:
        _emit(body)
    else:
        click.echo(inventory.render(body))


@cli.command()
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--log", "log_file", help="a log file with the audit lines (FC's logs, SLS export, serve's stderr)")
@click.option("--rule", help="only this rule")
@click.option("--group", help="only this container group (id or name)")
@click.option("--state", "state_file", help="also read the groups' own records from this DescribeContainerGroups body")
@click.option("--live", is_flag=True, help="also read the groups' own records from the real ECI API")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table")
def history(
    rules_file: str,
    log_file: str | None,
    rule: str | None,
    group: str | None,
    state_file: str | None,
    live: bool,
    as_json: bool,
) -> None:
    """Every change: when, tags and digests, what caused it (push, reconcile, approval, rollback), the outcome."""
    from .operations import history as past
    from .operations.rollback import rule_groups
    from .report import audit as trail
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    if rule is not None:
        _rule(rules, rule)
    if not (log_file or state_file or live):
        raise InputError("give --log LOG_FILE, --state STATE_FILE or --live: there is nothing to read otherwise")
    records: list[dict[str, Any]] = []
    if log_file:
        if not Path(log_file).exists():
            raise InputError("file not found", source=log_file)
        records = list(trail.read(Path(log_file)))
    groups: dict[str, Any] = {}
    if state_file or live:
        gateway = _gateway(state_file, live)
        for r in rules:
            groups.update({g.id: g for g in rule_groups(gateway, r, rules)})
    entries = past.history(records, groups.values(), rules, rule=rule, group=group)
    if as_json:
        _emit(entries)
    else:
        click.echo(past.render(entries) or "no change recorded")


@cli.command()
@click.argument("rule_name", metavar="RULE")
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--previous", is_flag=True, help="the allowed tag just below the one running (the rule's order)")
@click.option("--to", "to_tag", metavar="TAG", help="this tag")
@click.option("--freeze", is_flag=True, help="then freeze the rule's groups (eci-redeploy.freeze) until `unfreeze`")
@click.option("--state", "state_file", help="seed the embedded fake ECI with these container groups")
@click.option("--live", is_flag=True, help="roll back on the real ECI API instead of the embedded fake")
@click.option("--dry-run", is_flag=True, help="show the plan; apply nothing")
def rollback(
    rule_name: str,
    rules_file: str,
    previous: bool,
    to_tag: str | None,
    freeze: bool,
    state_file: str | None,
    live: bool,
    dry_run: bool,
) -> None:
    """Go back to an earlier version: an audited downgrade through the single writer, with the rule's rollout."""
    from .core import progress
    from .execution.executor import executor_for
    from .operations import rollback as back
    from .planning.registry_kinds import registry_host
    from .rules.model import load_rules

    if previous == bool(to_tag):
        raise click.UsageError("give exactly one of --previous and --to TAG")
    rules = load_rules(rules_file)
    rule = _rule(rules, rule_name)
    gateway = _gateway(state_file, live)
    groups = back.rule_groups(gateway, rule, rules)
    if not groups and rule.target.container_groups is not None:  # a rollback of nothing is not a success
        from .planning.hints import no_group

        raise InputError(f"nothing to roll back: {no_group(rule)}", source=rule.name)
    host = registry_host(rule, groups)
    if host is None:
        raise InputError("cannot tell which registry to ask: set source.registry", source=rule.name)
    with _registry_fix(rule, host):
        client = _registries()(rule, host)
        tag = to_tag or back.previous_tag(rule, rules, groups, client)
        event = back.rollback_event(rule, rules, client, tag)
    progress.enable(sys.stderr)
    progress.say(f"{rule.name}: rolling back to {event.describe()}")
    report = back.run_rollback(event, rules, gateway, os.environ, executor_for(dry_run))
    body = report.to_json()
    if freeze and not dry_run and not report.failed:
        body["frozen"] = back.set_freeze(gateway, rule, groups, f"rollback to {tag}")
    _emit(body)
    if report.failed:
        sys.exit(1)


@cli.command()
@click.argument("rule_name", metavar="RULE")
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="seed the embedded fake ECI with these container groups")
@click.option("--live", is_flag=True, help="on the real ECI API instead of the embedded fake")
def unfreeze(rule_name: str, rules_file: str, state_file: str | None, live: bool) -> None:
    """Remove eci-redeploy.freeze from the rule's groups (set by `rollback --freeze` or by hand)."""
    from .operations import rollback as back
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    rule = _rule(rules, rule_name)
    gateway = _gateway(state_file, live)
    _emit({"rule": rule.name, "unfrozen": back.set_freeze(gateway, rule, back.rule_groups(gateway, rule, rules), None)})


@cli.command("test-policy")
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--rule", "rule_name", required=True, help="the rule to try")
@click.option("--state", "state_file", help="container groups (only to find the registry when the rule names none)")
@click.option("--live", is_flag=True, help="read the container groups from the real ECI API (idem)")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table")
def test_policy(rules_file: str, rule_name: str, state_file: str | None, live: bool, as_json: bool) -> None:
    """Ask the rule's registry: which tags it holds, which the policy allows, which it would deploy."""
    from .operations.rollback import rule_groups
    from .operations.try_policy import render, try_policy
    from .planning.registry_kinds import registry_host
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    rule = _rule(rules, rule_name)
    groups = rule_groups(_gateway(state_file, live), rule, rules) if (state_file or live) else []
    host = registry_host(rule, groups)
    if host is None:
        message = "cannot tell which registry to ask: set source.registry (or pass --state / --live)"
        raise InputError(message, source=rule.name)
    with _registry_fix(rule, host):
        body = try_policy(rule, rules, _registries()(rule, host))
    if as_json:
        _emit(body)
    else:
        click.echo(render(body))


@cli.command()
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="container groups (with their tags) as a DescribeContainerGroups body")
@click.option("--live", is_flag=True, help="read the container groups from the real ECI API")
def status(rules_file: str, state_file: str | None, live: bool) -> None:
    """List held changes: the gate each waits on, since when, and what releases it (gates)."""
    from .clients.eci_model import load_state
    from .gates.flow import status as held_status
    from .rules.model import load_rules

    rules = load_rules(rules_file)
    if live:
        from .clients.eci import EciGateway

        gateway = EciGateway.from_env()
    else:
        from .fake.embedded import embedded_gateway

        gateway = embedded_gateway(load_state(state_file) if state_file else [])
    body = held_status(rules, gateway)
    if any(r.target.scaling_group is not None for r in rules):
        body["scaling_groups"] = _scaling_status(rules, gateway)
    _emit(body)


def _scaling_status(rules: Any, gateway: Any) -> list[dict[str, Any]]:
    """Each scaling-group rule's group: active configuration's images, suspended processes (and whether a
    rollout of ours left them so), instances by lifecycle state."""
    from .core.errors import EciRedeployError
    from .execution.scaling import observe_scaling
    from .planning.scaling import recorded

    out: list[dict[str, Any]] = []
    for rule in rules:
        ref = rule.target.scaling_group
        if ref is None:
            continue
        try:
            found = observe_scaling(gateway, rule.target.region, ref)
        except EciRedeployError as exc:
            out.append({"rule": rule.name, "scaling_group": ref.label, "error": exc.one_line()})
            continue
        views = [v for v in found if getattr(v, "is_scaling_view", False)]
        if not views:
            out.append({"rule": rule.name, "scaling_group": ref.label, "error": "no such scaling group"})
        for view in views:
            processes, owner, standby = recorded(view.group.tag_map)
            entry = {"rule": rule.name, **view.to_json()}
            if processes or standby:
                entry["left_by"] = {
                    "rule": owner,
                    "suspended": processes,
                    "standby": standby,
                    "note": "a rollout that did not finish: the next run or reconcile puts it back",
                }
            out.append(entry)
    return out


@cli.command()
@click.argument("log_file", metavar="LOG_FILE")
@click.option("--target", help="only this container group (id or name)")
@click.option("--rule", help="only this rule")
@click.option("--since", help="only since this time (ISO 8601, e.g. 2026-11-20T00:00:00Z)")
@click.option("--all", "show_all", is_flag=True, help="include ordinary skips")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def audit(
    log_file: str, target: str | None, rule: str | None, since: str | None, show_all: bool, as_json: bool
) -> None:
    """Summarise the audit lines of a log file: what changed, when, and from which push."""
    from datetime import datetime

    from .report import audit as trail

    path = Path(log_file)
    if not path.exists():
        raise InputError("file not found", source=log_file)
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{since!r} is not an ISO 8601 time", source="--since") from None
    records = trail.select(trail.read(path), target=target, rule=rule, since=when, changes_only=not show_all)
    if as_json:
        for record in records:
            click.echo(json.dumps(record))
    else:
        click.echo(trail.render(records) or "no audit lines match")


@cli.command("fake-eci")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--state", "state_file", help="seed with these container groups")
@click.option("--access-key", "access_keys", multiple=True, metavar="ID:SECRET", help="a key checked on every call")
@click.option("--strict-credentials", is_flag=True, help="refuse keys other than the default and --access-key ones")
@transition_option("")
def fake_eci(
    host: str,
    port: int,
    state_file: str | None,
    access_keys: tuple[str, ...],
    strict_credentials: bool,
    transition_seconds: float,
) -> None:
    """Serve a local fake of the ECI API that any official ECI SDK can talk to."""
    from .fake.server import parse_access_keys, serve_forever

    try:
        parse_access_keys(access_keys)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--access-key") from None
    # A change keeps the group Pending / Updating / Restarting this long, so clients see it in flight.
    transitions = {"startup_seconds": transition_seconds, "update_seconds": transition_seconds}
    serve_forever(
        host,
        port,
        state_file,
        access_keys=access_keys,
        strict_credentials=strict_credentials,
        backend_options=transitions,
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=int)
@click.option("--rules", "rules_file", required=True, help="rules file (YAML)")
@click.option("--state", "state_file", help="seed the embedded fake ECI with these container groups")
@click.option("--live", is_flag=True, help="apply against the real ECI API instead of the embedded fake")
@transition_option("embedded fake: ")
def serve(host: str, port: int, rules_file: str, state_file: str | None, live: bool, transition_seconds: float) -> None:
    """Serve the webhook function over HTTP on this machine (the same handler FC runs)."""
    from .functions.serve import serve_forever

    serve_forever(host, port, rules_file, state_file=state_file, live=live, transition_seconds=transition_seconds)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="eci-redeploy", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except EciRedeployError as exc:
        click.echo(f"eci-redeploy: {exc.one_line()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

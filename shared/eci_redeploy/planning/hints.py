"""Skip reasons an operator can act on: what was looked for, what was found, and what to change.

"no container runs acme/api" was true and useless when the group ran
`registry.cn-shanghai.aliyuncs.com/acme/api:1.4.2` and only the rule's `pull.acr.domains` lacked that
host; these reasons name the selector used, the hosts found and the fix.
"""

from __future__ import annotations

from ..clients.eci_model import ContainerGroup
from ..core.imageref import running_ref
from ..events.model import PushEvent
from ..rules.model import Rule, Selector


def selector_text(selector: Selector | None) -> str:
    """A rule's container_groups as the operator wrote it: `name=web`, `tags app=web,env=prod`, `ids a,b`."""
    if selector is None:
        return "(none)"
    if selector.ids is not None:
        return "ids " + ",".join(selector.ids)
    if selector.name is not None:
        return f"name={selector.name}"
    return "tags " + ",".join(f"{k}={v}" for k, v in sorted((selector.tags or {}).items()))


def no_group(rule: Rule) -> str:
    """The skip of a rule whose selector matched nothing in its region."""
    return (
        f"no container group matches the rule's container_groups ({selector_text(rule.target.container_groups)} "
        f"in {rule.target.region}): check the selector against the groups' names and tags, or the region"
    )


def hosts_running(group: ContainerGroup, repository: str) -> list[str]:
    """The registry hosts the group's containers pull `repository` from (any host)."""
    hosts: list[str] = []
    for container in (*group.containers, *group.init_containers):
        ref = running_ref(container.image) if container.image else None
        if ref is not None and ref.repository == repository and ref.registry not in hosts:
            hosts.append(ref.registry)
    return hosts


def no_container(group: ContainerGroup, event: PushEvent, rule: Rule) -> str:
    """Why no container of `group` is the pushed repository, with the fix when the group runs the same
    repository on a host the rule does not count as the pushed registry."""
    hosts = hosts_running(group, event.repository)
    selector = selector_text(rule.target.container_groups)
    if not hosts:
        return f"no container runs {event.repository} (group selected by {selector})"
    pushed = event.registry_host or event.instance_name or event.instance_id or "the pushed registry"
    found = ", ".join(f"{h}/{event.repository}" for h in hosts)
    if rule.pull.acr is not None:
        missing = [h for h in hosts if h not in rule.pull.acr.domains]
        if missing:
            return (
                f"no container runs {event.repository} from {pushed}: the group runs {found}; if that is the ACR "
                f"instance {rule.pull.acr.instance_id}, add {' and '.join(missing)} to pull.acr.domains"
            )
    return (
        f"no container runs {event.repository} from {pushed}: the group runs {found} (selected by {selector}); "
        "if that is the same registry, name it in source.registry or the push's registry"
    )


def registry_fix(rule: Rule, host: str | None, problem: str) -> str:
    """What to change when the rule's registry could not answer (reconcile's `problems`): the error
    alone ("no answer (ConnectionError)", "list?n=100 not found") names no setting to look at."""
    where = host or "the registry"
    if problem == "credentials-refused":
        creds = [c for c in rule.pull.credentials if host and c.server.lower() == host.lower()]
        if not creds:
            return f"no pull.credentials entry names {where}: add one (or pull.acr for an ACR EE instance)"
        return f"check ${creds[0].password_env}, the password of {creds[0].username} in pull.credentials for {where}"
    if problem == "not-found":
        return f"check source.repository ({rule.source.repository}) and the rule's tags against what {where} holds"
    plain = ""
    if host is not None and host not in rule.pull.plain_http:
        plain = f"; if it serves plain HTTP, add {host} to pull.plain_http"
    return f"check source.registry ({where}) and that this machine or function can reach it (network, VPC, NAT){plain}"

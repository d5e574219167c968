"""Which kind of registry an image comes from, the way the ECI console groups image types.

The kind decides how ECI must pull it (see `pull.py`): secret-free from ACR, credentials for other
private registries, plain-HTTP / insecure flags for self-managed ones.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.hosts import check_instance_name, check_region
from ..core.imageref import DOCKER_HUB, ImageRef, running_ref

if TYPE_CHECKING:  # annotations only: classifying a host needs neither pydantic nor the rules model
    from ..clients.eci_model import ContainerGroup
    from ..rules.model import Rule

_ACR_PERSONAL = re.compile(r"^registry(?P<intl>-intl)?(?P<vpc>-vpc)?\.(?P<region>[a-z0-9-]+)\.aliyuncs\.com$")
_ACR_ENTERPRISE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9-]*?)-registry(?P<vpc>-vpc)?\.(?P<region>[a-z0-9-]+)\.cr\.aliyuncs\.com$"
)
ECI_COMMON_NAMESPACE = "eci_open"


class RegistryKind(str, enum.Enum):
    ECI_COMMON = "eci-common"  # ECI's own test images on the ACR personal domain
    DOCKER_HUB = "docker-hub"
    ACR_PERSONAL = "acr-personal"
    ACR_ENTERPRISE = "acr-enterprise"
    SELF_MANAGED = "self-managed"  # listed under pull.plain_http / pull.insecure
    PUBLIC = "public"  # another registry the rules declare anonymous-pullable (pull.public)
    PRIVATE = "private"  # anything else: needs credentials


@dataclass(frozen=True)
class RegistryInfo:
    kind: RegistryKind
    host: str
    region: str | None = None
    instance_name: str | None = None  # ACR EE instance name from the default domain
    vpc: bool = False
    official: bool = False  # Docker Hub `library/` images
    custom_domain: bool = False


def classify(
    ref: ImageRef,
    *,
    acr_domains: Collection[str] = (),
    self_managed: Collection[str] = (),
    public: Collection[str] = (),
) -> RegistryInfo:
    host = ref.registry
    if host == DOCKER_HUB:
        return RegistryInfo(RegistryKind.DOCKER_HUB, host, official=ref.repository.startswith("library/"))
    if host in acr_domains:
        return RegistryInfo(RegistryKind.ACR_ENTERPRISE, host, custom_domain=True)
    m = _ACR_PERSONAL.match(host)
    if m:
        kind = (
            RegistryKind.ECI_COMMON
            if ref.repository.startswith(ECI_COMMON_NAMESPACE + "/")
            else RegistryKind.ACR_PERSONAL
        )
        return RegistryInfo(kind, host, region=m["region"], vpc=bool(m["vpc"]))
    m = _ACR_ENTERPRISE.match(host)
    if m:
        return RegistryInfo(
            RegistryKind.ACR_ENTERPRISE, host, region=m["region"], instance_name=m["name"], vpc=bool(m["vpc"])
        )
    if host in self_managed:
        return RegistryInfo(RegistryKind.SELF_MANAGED, host)
    if host in public:
        return RegistryInfo(RegistryKind.PUBLIC, host)
    return RegistryInfo(RegistryKind.PRIVATE, host)


def enterprise_host(instance_name: str, region: str, *, vpc: bool = True) -> str:
    """The default domain of an ACR EE instance; the VPC one needs neither EIP nor NAT. Both parts are
    checked here, whoever gave them (an event's instance name and region come from a payload)."""
    check_instance_name(instance_name)
    check_region(region)
    return f"{instance_name}-registry{'-vpc' if vpc else ''}.{region}.cr.aliyuncs.com"


def same_registry(a: str, b: str) -> bool:
    """Two hosts of one registry: ACR's public / VPC / intl endpoints are the same store."""
    if a == b:
        return True
    ma, mb = _ACR_PERSONAL.match(a), _ACR_PERSONAL.match(b)
    if ma and mb:
        return ma["region"] == mb["region"]
    ea, eb = _ACR_ENTERPRISE.match(a), _ACR_ENTERPRISE.match(b)
    if ea and eb:
        return ea["name"] == eb["name"] and ea["region"] == eb["region"]
    return False


def registry_host(rule: Rule, groups: list[ContainerGroup]) -> str | None:
    """Where to ask: the rule's registry host, its ACR settings, or the host its targets pull from."""
    source = rule.source.registry
    if source and not source.startswith("cri-"):
        return source
    acr = rule.pull.acr
    if acr and acr.domains:
        return acr.domains[0]
    if acr and acr.instance_name:
        return enterprise_host(acr.instance_name, acr.region or rule.target.region, vpc=False)
    for group in groups:
        for c in group.containers + group.init_containers:
            ref = running_ref(c.image) if c.image else None  # a broken image still names its registry
            if ref is not None and ref.repository == rule.source.repository:
                return ref.registry
    return None

"""How ECI must pull each image: inferred from the registry kind, explicit `pull` settings winning.

- ACR Enterprise Edition: `AcrRegistryInfo` (secret-free through ECI's service-linked role).
- ACR Personal Edition of the same account, Docker Hub public images, ECI common images: nothing.
- A registry listed in `pull.credentials`: `ImageRegistryCredential` (password from the environment).
- Self-managed over HTTP / self-signed TLS: `PlainHttpRegistry` / `InsecureRegistry` (create only).
- Any other registry: a planning error now, not a failed pull an hour later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import PlanningError
from ..core.imageref import ImageRef, canonical_registry
from ..core.secrets import Secret
from ..events.model import PushEvent
from ..rules.model import AcrSettings, Credential, Rule
from .registry_kinds import RegistryInfo, RegistryKind, classify


@dataclass
class PullParameters:
    acr: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)
    plain_http: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    eip: bool = False
    image_cache: bool = False
    _update: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _cache: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def for_update(self) -> dict[str, Any]:
        # UpdateContainerGroup has no PlainHttpRegistry / InsecureRegistry / EIP / image-cache
        # parameters, and its AcrRegistryInfo no ArnService / ArnUser (the SDK's
        # UpdateContainerGroupRequestAcrRegistryInfo: Domain, InstanceId, InstanceName, RegionId; its
        # from_map drops the rest): a group keeps what it was created with, so a cross-account entry
        # is left off whole rather than sent as a same-account one. Read-only: shared by a plan's steps.
        if self._update is not None:
            return self._update
        out: dict[str, Any] = {}
        acr = [e for e in self.acr if not self._cross_account(e)]
        if acr:
            out["AcrRegistryInfo"] = acr
        if self.credentials:
            out["ImageRegistryCredential"] = self.credentials
        self._update = out
        return out

    def for_cache(self) -> dict[str, Any]:
        """What CreateImageCache needs for these images beyond what an update carries (it takes what
        CreateContainerGroup takes); empty when the update carries it all. Read-only, shared."""
        if self._cache is None:
            keys = ("AcrRegistryInfo", "ImageRegistryCredential", "PlainHttpRegistry", "InsecureRegistry")
            wanted = {k: v for k, v in self.for_create().items() if k in keys}
            self._cache = wanted if wanted != {k: v for k, v in self.for_update().items() if k in keys} else {}
        return self._cache

    def for_create(self) -> dict[str, Any]:
        # CreateContainerGroupRequestAcrRegistryInfo has ArnService / ArnUser: every entry goes.
        out: dict[str, Any] = {"AcrRegistryInfo": self.acr} if self.acr else {}
        out.update((k, v) for k, v in self.for_update().items() if k != "AcrRegistryInfo")
        if self.plain_http:
            out["PlainHttpRegistry"] = ",".join(self.plain_http)
        if self.insecure:
            out["InsecureRegistry"] = ",".join(self.insecure)
        if self.eip:
            out["AutoCreateEip"] = True
        if self.image_cache:
            out["AutoMatchImageCache"] = True
        return out

    @staticmethod
    def _cross_account(entry: dict[str, Any]) -> bool:
        return bool(entry.get("ArnService") or entry.get("ArnUser"))

    @property
    def create_only(self) -> list[str]:
        """Settings an update cannot carry (worth a note on an update step)."""
        out = [k for k, hosts in (("PlainHttpRegistry", self.plain_http), ("InsecureRegistry", self.insecure)) if hosts]
        out += [
            f"the cross-account AcrRegistryInfo of {e['InstanceId']} (ArnService / ArnUser)"
            for e in self.acr
            if self._cross_account(e)
        ]
        return out


def registry_info(ref: ImageRef, rule: Rule) -> RegistryInfo:
    pull = rule.pull
    return classify(
        ref,
        acr_domains=pull.acr.domains if pull.acr else (),
        self_managed=(*pull.plain_http, *pull.insecure),
        public=pull.public,
    )


def _credential_for(host: str, credentials: Iterable[Credential]) -> Credential | None:
    for cred in credentials:
        if canonical_registry(cred.server) == host:
            return cred
    return None


def _acr_applies(acr: AcrSettings, info: RegistryInfo) -> bool:
    if info.host in acr.domains:
        return True
    if acr.instance_name:
        return info.instance_name == acr.instance_name.lower()
    return not acr.domains


def _instance_for(info: RegistryInfo, rule: Rule, event: PushEvent | None) -> tuple[str | None, str | None]:
    """(instance id, instance name) for an ACR EE host, from the rule first, then the event."""
    acr = rule.pull.acr
    if acr and _acr_applies(acr, info):
        return acr.instance_id, acr.instance_name or info.instance_name
    if event and event.instance_id and (not event.instance_name or event.instance_name == info.instance_name):
        return event.instance_id, info.instance_name or event.instance_name
    source = rule.source.registry
    if source and source.startswith("cri-"):
        return source, info.instance_name
    return None, info.instance_name


def pull_parameters(
    images: Iterable[ImageRef],
    rule: Rule,
    event: PushEvent | None,
    env: Mapping[str, str],
) -> PullParameters:
    out = PullParameters(eip=rule.pull.internet == "eip", image_cache=rule.pull.image_cache == "auto")
    acr_entries: dict[str, dict[str, Any]] = {}
    seen_hosts: set[str] = set()
    for ref in images:
        host = ref.registry
        if host in seen_hosts:
            continue
        seen_hosts.add(host)
        info = registry_info(ref, rule)
        written = ref.host
        if host in rule.pull.plain_http:
            out.plain_http.append(written)
        if host in rule.pull.insecure:
            out.insecure.append(written)
        cred = _credential_for(host, rule.pull.credentials)
        if cred is not None:
            password = env.get(cred.password_env)
            if password is None:
                raise PlanningError(
                    f"the password for {cred.server} is read from ${cred.password_env}, which is not set",
                    rule=rule.name,
                )
            out.credentials.append({"Server": cred.server, "UserName": cred.username, "Password": Secret(password)})
            continue
        if info.kind is RegistryKind.ACR_ENTERPRISE:
            _add_acr(acr_entries, info, written, rule, event)
            continue
        if info.kind is RegistryKind.PRIVATE:
            raise PlanningError(
                f"image {ref} is on {written}, a private registry: add pull.credentials for it "
                "(or pull.acr for an ACR Enterprise Edition custom domain, or list it in pull.public "
                "if its images pull anonymously)",
                rule=rule.name,
            )
    out.acr = list(acr_entries.values())
    return out


def _add_acr(
    entries: dict[str, dict[str, Any]], info: RegistryInfo, host: str, rule: Rule, event: PushEvent | None
) -> None:
    instance_id, instance_name = _instance_for(info, rule, event)
    if instance_id is None:
        # Same account, default domain: ECI's service-linked role pulls it without AcrRegistryInfo.
        return
    entry = entries.get(instance_id)
    acr = rule.pull.acr if rule.pull.acr and rule.pull.acr.instance_id == instance_id else None
    if entry is None:
        region = (acr.region if acr else None) or info.region or (event.region if event else None)
        entry = {"InstanceId": instance_id}
        if instance_name:
            entry["InstanceName"] = instance_name
        entry["RegionId"] = region or rule.target.region
        entry["Domain"] = list(acr.domains) if acr and acr.domains else []
        if acr and acr.arn_service:
            entry["ArnService"] = acr.arn_service
            entry["ArnUser"] = acr.arn_user
        entries[instance_id] = entry
    if not (acr and acr.domains) and host not in entry["Domain"]:
        entry["Domain"].append(host)

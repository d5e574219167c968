"""GitHub Packages webhooks: `registry_package` (and the older `package`) events, action `published`,
for container packages on ghcr.io (octokit/webhooks payload-examples/api.github.com/registry_package).

The tag is `package_version.container_metadata.tag.name`, the digest `...tag.digest` (or the
manifest's); GitHub's own example carries an empty tag and a digest that is not a sha256 digest:
such a version is reported as ignored, with both facts, rather than guessed at.

GitHub Packages' original Docker registry (before ghcr.io) sends no `container_metadata`: the tag is
`package_version.version` and the image is `docker.pkg.github.com/<owner>/<repository>/<name>`
(GitHub's docs for that registry; keel-hq/keel pkg/http/github_webhook_trigger_test.go,
fakeGithubPackageWebhook, reads the tag from the same field). No digest comes with it: the tag is
deployed (and confirmed with the registry where the product can reach it).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import EventError
from ...core.imageref import ImageRef, ImageReferenceError
from ..model import IgnoredEvent, PushEvent
from . import detect
from .base import checked_tag, lenient_digest, parse_time
from .traits import Traits

NAME = "github"
TRAITS = Traits(unsigned=True)  # no signature the product checks: the token vouches, the registry confirms the digest
HOST = "ghcr.io"
DOCKER_PKG = "docker.pkg.github.com"  # the original GitHub Packages Docker registry


looks_like = detect.github


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _container(package: dict[str, Any]) -> bool:
    # Which registry took the upload says what was published. octokit's examples (the payloads GitHub's
    # docs show) carry package_type "npm" and ecosystem "docker" both for a container
    # (published.docker: registry.type "CONTAINER") and for an npm package (published.npm: registry.type
    # "npm"); package_type ("container" for ghcr.io images) and then ecosystem count only without it.
    registry = str(_dict(package.get("registry")).get("type") or "").lower()
    kind = registry or str(package.get("package_type") or package.get("ecosystem") or "").lower()
    return kind in {"container", "docker"}


def parse(raw: dict[str, Any]) -> PushEvent | IgnoredEvent:
    key = "registry_package" if "registry_package" in raw else "package"
    package = _dict(raw.get(key))
    version = _dict(package.get("package_version"))
    event_id = f"github-{version.get('id') or package.get('id') or '?'}"
    if raw.get("action") != "published":
        return IgnoredEvent(NAME, event_id, f"{key} action {raw.get('action')} is not published")
    if not _container(package):
        return IgnoredEvent(NAME, event_id, f"package_type {package.get('package_type')} is not a container")
    meta = _dict(version.get("container_metadata"))
    if not meta and version.get("version"):
        return _docker_pkg(raw, package, version, key, event_id)
    tag_info, manifest = _dict(meta.get("tag")), _dict(meta.get("manifest"))
    tag = checked_tag(tag_info.get("name"), source=f"{NAME}: {key}.package_version.container_metadata.tag")
    digest, warning = lenient_digest(tag_info.get("digest") or manifest.get("digest"))
    repository = _repository(package, version)
    if not tag and not digest:
        why = f", and its digest {warning}" if warning else ""
        return IgnoredEvent(NAME, event_id, f"{HOST}/{repository}: the published version has no tag{why}")
    return PushEvent(
        repository=repository,
        tag=tag,
        digest=digest,
        source=NAME,
        event_id=f"{event_id}-{tag or digest}",
        time=_time(version.get("updated_at")) or _time(package.get("updated_at")),
        registry_host=HOST,
        warning=f"container_metadata.tag.digest {warning}: ignored, the tag is deployed" if warning else None,
    )


def _docker_pkg(
    raw: dict[str, Any], package: dict[str, Any], version: dict[str, Any], key: str, event_id: str
) -> PushEvent:
    """A version of the original Docker registry: the tag is `version`, the image is named by the
    GitHub repository (`repository.full_name`) and the package's name."""
    tag = checked_tag(version.get("version"), source=f"{NAME}: {key}.package_version.version")
    full = str(_dict(raw.get("repository")).get("full_name") or "")
    name = str(package.get("name") or "")
    if not full or not name:
        raise EventError(
            f"cannot tell the {DOCKER_PKG} image: no repository.full_name or {key}.name", source=NAME, field=key
        )
    return PushEvent(
        repository=f"{full}/{name}".lower(),
        tag=tag,
        digest=None,
        source=NAME,
        event_id=f"{event_id}-{tag}",
        time=_time(version.get("updated_at")) or _time(package.get("updated_at")),
        registry_host=DOCKER_PKG,
    )


def _time(value: Any) -> Any:
    when = parse_time(value)
    return when if when and when.year >= 2000 else None  # GitHub sends 0001-01-01T00:00:00Z for "unset"


def _repository(package: dict[str, Any], version: dict[str, Any]) -> str:
    # package_url is "ghcr.io/<owner>/<name>:<tag>" (empty tag allowed): the image name as pulled.
    url = str(version.get("package_url") or "").rstrip(":")
    if url:
        try:
            return ImageRef.parse(url.lower()).repository
        except ImageReferenceError:
            pass
    owner = str(_dict(package.get("owner")).get("login") or "")
    name = str(package.get("name") or "")
    if not owner or not name:
        raise EventError("cannot tell the image: no package_url, owner.login or name", source=NAME, field="package")
    return f"{owner}/{name}".lower()

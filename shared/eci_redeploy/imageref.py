"""Image references by the OCI distribution reference grammar (distribution/reference).

`ImageRef.parse("nginx")` is `docker.io/library/nginx`; the form the user wrote is kept so that a
new image written back onto a container keeps the registry host (and short form) it already used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import ImageReferenceError

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME_MAX = 255


def canonical_registry(host: str) -> str:
    """Docker Hub has several names; everything else compares lowercased."""
    host = host.lower()
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def validate_digest(digest: str, *, where: str = "digest") -> str:
    if not _DIGEST.match(digest):
        raise ImageReferenceError(f"{digest!r} is not a digest (algorithm:hex)", field=where)
    if digest.startswith("sha256:") and not _SHA256.match(digest):
        raise ImageReferenceError(f"{digest!r} is not a sha256 digest (64 lowercase hex)", field=where)
    return digest


def validate_tag(tag: str, *, where: str = "tag") -> str:
    if not _TAG.match(tag):
        raise ImageReferenceError(f"{tag!r} is not a valid tag", field=where)
    return tag


@dataclass(frozen=True)
class ImageRef:
    registry: str  # canonical host[:port], e.g. "docker.io"
    repository: str  # canonical path, e.g. "library/nginx"
    tag: str | None = None
    digest: str | None = None
    original: str = ""
    written_domain: str | None = None  # None when the user relied on the docker.io default
    written_path: str = ""  # "nginx" for "nginx:1.0"

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        if not isinstance(text, str):
            raise ImageReferenceError(f"{text!r} is not an image reference")
        return _parse_cached(text) if cls is ImageRef else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> ImageRef:
        if not isinstance(text, str) or not text or text != text.strip():
            raise ImageReferenceError(f"{text!r} is not an image reference")
        rest, digest = text, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            validate_digest(digest, where=f"digest of {text!r}")
        tag = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.match(tag):
                raise ImageReferenceError(f"{text!r}: {tag!r} is not a valid tag")
        first, sep, remainder = rest.partition("/")
        is_domain = bool(sep) and (any(c in first for c in ".:") or first == "localhost" or first != first.lower())
        if is_domain:
            if not _DOMAIN.match(first):
                raise ImageReferenceError(f"{text!r}: {first!r} is not a valid registry host")
            domain: str | None = first
            path = remainder
        else:
            domain, path = None, rest
        if not path:
            raise ImageReferenceError(f"{text!r} has no repository name")
        if path != path.lower():
            raise ImageReferenceError(f"{text!r}: repository name must be lowercase")
        if not _PATH.match(path):
            raise ImageReferenceError(f"{text!r}: {path!r} is not a valid repository name")
        if len((domain + "/" if domain else "") + path) > _NAME_MAX:
            raise ImageReferenceError(f"{text!r}: repository name longer than {_NAME_MAX} characters")
        registry = canonical_registry(domain) if domain else DOCKER_HUB
        repository = path
        if registry == DOCKER_HUB and "/" not in repository:
            repository = f"library/{repository}"
        return cls(registry, repository, tag, digest, text, domain, path)

    @property
    def host(self) -> str:
        """The host as it goes to ECI (as written; Docker Hub's canonical name when omitted)."""
        return self.written_domain or DOCKER_HUB

    @property
    def name(self) -> str:
        """Canonical `registry/repository`, the identity used for comparisons."""
        return f"{self.registry}/{self.repository}"

    def with_version(self, *, tag: str | None, digest: str | None) -> ImageRef:
        new = ImageRef(self.registry, self.repository, tag, digest, "", self.written_domain, self.written_path)
        object.__setattr__(new, "original", new.render())  # frozen: set once, before anyone sees it
        return new

    def render(self) -> str:
        """The reference in the user's own form: same host spelling, same short name."""
        out = f"{self.written_domain}/{self.written_path}" if self.written_domain else self.written_path
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def __str__(self) -> str:
        return self.original or self.render()


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> ImageRef:
    # Image references repeat across groups and events; ImageRef is immutable, so share the parse.
    return ImageRef._parse(text)

"""Image references by the OCI distribution reference grammar (distribution/reference).

`ImageRef.parse("nginx")` is `docker.io/library/nginx`; the form the user wrote is kept so that a
new image written back onto a container keeps the registry host (and short form) it already used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from .errors import ImageReferenceError
from .hosts import host_problem, instance_id_problem, instance_name_problem, region_problem

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

# Every pattern is matched with re.fullmatch (never `^...$`: `$` also matches before a final newline,
# and a tag "1.0\n" once reached ECI) and written with explicit ASCII classes (Python's `\w` accepts
# any script's letters and digits, full-width digits or CJK; the grammar's `\w` is Go's, ASCII only).
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
# The digest algorithms the OCI image spec registers, with their exact encoded lengths (lowercase hex).
# Others (md5, sha1, a sha256 of the wrong length) are refused: ECI and registries would not pull them.
_REGISTERED_DIGESTS = {"sha256": re.compile(r"sha256:[0-9a-f]{64}"), "sha512": re.compile(r"sha512:[0-9a-f]{128}")}
_NAME_MAX = 255


def canonical_registry(host: str) -> str:
    """Docker Hub has several names; everything else compares lowercased."""
    host = host.lower()
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def _refused(message: str, where: str) -> ImageReferenceError:
    # The field goes on the error, not into its text: callers wrap it with their own source and field
    # (an adapter's "acr-webhook: tag: ..."), which would otherwise read "tag: tag: ...".
    error = ImageReferenceError(message)
    error.field = where
    return error


def validate_digest(digest: str, *, where: str = "digest") -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise _refused(f"{digest!r} is not a digest (algorithm:hex)", where)
    algorithm = digest.partition(":")[0]
    registered = _REGISTERED_DIGESTS.get(algorithm)
    if registered is None:
        raise _refused(f"{digest!r}: only sha256 and sha512 digests are accepted", where)
    if not registered.fullmatch(digest):
        length = 64 if algorithm == "sha256" else 128
        raise _refused(f"{digest!r} is not a {algorithm} digest ({length} lowercase hex)", where)
    return digest


def validate_tag(tag: str, *, where: str = "tag") -> str:
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise _refused(f"{tag!r} is not a valid tag (ASCII letters, digits, '_', '.', '-'; at most 128)", where)
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
        if not text.isascii():
            raise ImageReferenceError(f"{text!r} is not an image reference (only ASCII characters are allowed)")
        rest, digest = text, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            try:
                validate_digest(digest)
            except ImageReferenceError as exc:
                raise ImageReferenceError(f"{text!r}: {exc}") from None
        tag = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise ImageReferenceError(f"{text!r}: {tag!r} is not a valid tag")
        first, sep, remainder = rest.partition("/")
        is_domain = bool(sep) and (any(c in first for c in ".:") or first == "localhost" or first != first.lower())
        if is_domain:
            if not _DOMAIN.fullmatch(first):
                raise ImageReferenceError(f"{text!r}: {first!r} is not a valid registry host")
            domain: str | None = first
            path = remainder
        else:
            domain, path = None, rest
        if not path:
            raise ImageReferenceError(f"{text!r} has no repository name")
        if path != path.lower():
            raise ImageReferenceError(f"{text!r}: repository name must be lowercase")
        if not _PATH.fullmatch(path):
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


def check_event_fields(
    repository: str, tag: str | None, digest: str | None, host: str | None, equivalent: frozenset[str] = frozenset()
) -> tuple[str, str] | None:
    """(field, why) for the first part of a push event that fails the grammar; None when all hold.
    Bare regular expressions first (this runs for every event, on the planner's hot path); the
    validators only to word a refusal."""
    if not isinstance(repository, str) or len(repository) > _NAME_MAX or not _PATH.fullmatch(repository):
        return "repository", f"{repository!r} is not a valid repository path"
    if tag is not None and not (isinstance(tag, str) and _TAG.fullmatch(tag)):
        return "tag", _why(validate_tag, tag)
    for value in (digest, *equivalent) if equivalent else (digest,):
        if value is None:
            continue
        registered = _REGISTERED_DIGESTS.get(value.partition(":")[0]) if isinstance(value, str) else None
        if registered is None or not registered.fullmatch(value):
            return "digest", _why(validate_digest, value)
    if host is not None and not (isinstance(host, str) and _DOMAIN.fullmatch(host) and not host_problem(host)):
        return "registry", f"{host!r} is not a valid registry host"
    return None


def check_event_places(
    instance_id: str | None, instance_name: str | None, region: str | None
) -> tuple[str, str] | None:
    """(field, why) for the first of a push's other host-forming fields that fails its grammar
    (core/hosts.py): each may end up in a host name (the ACR API's, a registry's default domain)."""
    for field_name, value, problem in (
        ("instance_id", instance_id, instance_id_problem),
        ("instance_name", instance_name, instance_name_problem),
        ("region", region, region_problem),
    ):
        why = problem(value) if value is not None else None
        if why:
            return field_name, why
    return None


def _why(validator: Callable[[str], str], value: str) -> str:
    try:
        validator(value)
    except ImageReferenceError as exc:
        return str(exc)
    return f"{value!r} is not valid"


def salvage_name(text: str) -> ImageRef | None:
    """The repository a reference that fails the grammar still names, without its tag or digest; None
    when even the name is unreadable. Only for images already running on a group (say `app:1.0\\n`,
    set by hand or by an older version): the group can then be recognised and repaired by a valid
    push. Never for input that is about to be sent anywhere."""
    if not isinstance(text, str):
        return None
    rest = text.strip().partition("@")[0]
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest = rest[:colon]
    try:
        return ImageRef.parse(rest)
    except ImageReferenceError:
        return None


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> ImageRef:
    # Image references repeat across groups and events; ImageRef is immutable, so share the parse.
    return ImageRef._parse(text)


def running_ref(image: str) -> ImageRef | None:
    """A running container's image: parsed, or (when it fails the grammar, e.g. `app:1.0\\n` left by
    hand or an older version) just the repository it names, so that a valid push can repair it."""
    try:
        return ImageRef.parse(image)
    except ImageReferenceError:
        return salvage_name(image)

"""A client for the Docker Registry HTTP API v2 / OCI distribution spec, for the reconcile.

Resolves a tag to its digest with HEAD (which does not count against Docker Hub's pull limits),
follows an index to the manifest of the platform the container group runs (so a multi-arch image
never looks "always updated"), lists tags page by page, answers Basic and Bearer challenges, and
respects the registry: 429 + Retry-After is waited out (bounded) and a tick has a request budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from ..core.errors import EciRedeployError
from ..core.hosts import host_problem

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = frozenset(MANIFEST_TYPES[:2])
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(EciRedeployError):
    exit_code = 7


class RegistryAuthError(RegistryError):
    """The registry refused the credentials (or there were none and it wants some)."""


class RegistryNotFound(RegistryError):
    pass


class RegistryBudgetExceeded(RegistryError):
    pass


def problem_kind(exc: RegistryError) -> str:
    """How reconcile's `problems` (docs/cli.md) name the registry's failure."""
    if isinstance(exc, RegistryAuthError):
        return "credentials-refused"
    return "not-found" if isinstance(exc, RegistryNotFound) else "unreachable"


@dataclass(frozen=True)
class Resolved:
    tag: str
    digest: str  # what to deploy: the platform's manifest when the tag is an index
    index_digest: str | None = None
    media_type: str = ""


@dataclass
class RegistryClient:
    host: str
    scheme: str = "https"
    verify: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token_provider: Callable[[], tuple[str, str]] | None = None  # (username, password), e.g. ACR's temporary token
    max_requests: int = 50
    max_wait_seconds: float = 30.0
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    requests_made: int = 0
    _session: Any = field(default=None, repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Built from rules, groups or a push: a host outside RFC 1123 (`a@127.0.0.1:1/#`) is never asked.
        why = host_problem(self.host)
        if why:
            raise RegistryError(f"registry host refused: {why}")

    @property
    def base(self) -> str:
        api_host = "registry-1.docker.io" if self.host == "docker.io" else self.host
        return f"{self.scheme}://{api_host}"

    # ---- public operations ----

    def resolve(self, repository: str, tag: str, platform: str = "linux/amd64") -> Resolved:
        response = self._request("HEAD", f"/v2/{repository}/manifests/{tag}", repository)
        digest = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        if media_type in INDEX_TYPES or not digest:
            full = self._request("GET", f"/v2/{repository}/manifests/{tag}", repository)
            digest = digest or full.headers.get("Docker-Content-Digest")
            media_type = full.headers.get("Content-Type", "").split(";")[0] or media_type
            if media_type in INDEX_TYPES:
                return Resolved(tag, _pick(full.json(), platform, repository, tag), digest, media_type)
        if not digest:
            raise RegistryError(f"{self.host}/{repository}:{tag}: the registry sent no Docker-Content-Digest")
        return Resolved(tag, digest, None, media_type)

    def list_tags(self, repository: str, page_size: int = 100) -> list[str]:
        tags: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n={page_size}"
        while path:
            response = self._request("GET", path, repository)
            tags.extend(response.json().get("tags") or [])
            path = _next_link(response.headers.get("Link", ""))
        return tags

    # ---- HTTP with auth, 429 handling and a budget ----

    def _get_session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.verify = self.verify
        return self._session

    def _request(self, method: str, path: str, repository: str) -> Any:
        url = urljoin(self.base, path)
        headers = {"Accept": ", ".join(MANIFEST_TYPES)} if "/manifests/" in path else {}
        waited = 0.0
        challenged = False
        while True:
            if self.requests_made >= self.max_requests:
                raise RegistryBudgetExceeded(
                    f"{self.host}: the request budget of {self.max_requests} for this tick is spent"
                )
            self.requests_made += 1
            auth = self._auth_header(repository)
            try:
                response = self._get_session().request(
                    method, url, headers={**headers, **auth}, timeout=self.timeout, allow_redirects=True
                )
            except Exception as exc:  # requests' connection errors, TLS errors
                raise RegistryError(f"{self.host}: no answer ({type(exc).__name__})") from None
            if response.status_code == 401 and not challenged:
                challenged = True
                self._answer_challenge(response.headers.get("WWW-Authenticate", ""), repository)
                continue
            if response.status_code == 429:
                delay = _retry_after(response.headers.get("Retry-After"))
                if waited + delay > self.max_wait_seconds:
                    raise RegistryError(f"{self.host}: rate limited (429) beyond {self.max_wait_seconds:.0f} s")
                self.sleep(delay)
                waited += delay
                continue
            if response.status_code in (401, 403):
                raise RegistryAuthError(
                    f"{self.host}: access to {repository} denied ({response.status_code}); check pull.credentials"
                )
            if response.status_code == 404:
                raise RegistryNotFound(f"{self.host}/{repository}: {path.rsplit('/', 1)[-1]} not found")
            if response.status_code >= 400:
                raise RegistryError(f"{self.host}: {method} {path} answered {response.status_code}")
            return response

    def _credentials(self) -> tuple[str, str] | None:
        if self.username is not None and self.password is not None:
            return self.username, self.password
        if self.token_provider is not None:
            return self.token_provider()
        return None

    def _auth_header(self, repository: str) -> dict[str, str]:
        token = self._tokens.get(repository) or self._tokens.get("*")
        return {"Authorization": token} if token else {}

    def _answer_challenge(self, challenge: str, repository: str) -> None:
        scheme = challenge.split(" ", 1)[0].lower()
        creds = self._credentials()
        if scheme == "basic":
            if creds is None:
                raise RegistryAuthError(f"{self.host} wants credentials: add pull.credentials for it")
            import base64

            basic = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            self._tokens["*"] = f"Basic {basic}"
            return
        if scheme != "bearer":
            raise RegistryAuthError(f"{self.host}: unsupported authentication challenge {scheme!r}")
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise RegistryAuthError(f"{self.host}: bearer challenge without a realm")
        params.setdefault("scope", f"repository:{repository}:pull")
        if self.requests_made >= self.max_requests:
            raise RegistryBudgetExceeded(
                f"{self.host}: the request budget of {self.max_requests} for this tick is spent"
            )
        self.requests_made += 1
        try:
            response = self._get_session().get(realm, params=params, auth=creds, timeout=self.timeout)
        except Exception as exc:
            raise RegistryError(f"{self.host}: token endpoint did not answer ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise RegistryAuthError(f"{self.host}: the token endpoint refused the credentials; check pull.credentials")
        if response.status_code >= 400:
            raise RegistryError(f"{self.host}: token endpoint answered {response.status_code}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryAuthError(f"{self.host}: the token endpoint sent no token")
        self._tokens[repository] = f"Bearer {token}"


def _pick(index: dict[str, Any], platform: str, repository: str, tag: str) -> str:
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    for entry in index.get("manifests") or []:
        p = entry.get("platform") or {}
        if p.get("os") == os_name and p.get("architecture") == arch and (not variant or p.get("variant") == variant):
            return str(entry["digest"])
    raise RegistryNotFound(f"{repository}:{tag} has no image for {platform}")


def _next_link(link: str) -> str | None:
    match = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", link)
    return match.group(1) if match else None


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0

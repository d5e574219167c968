"""A real registry for tests: Debian's docker-registry on loopback, images written as OCI layouts by
hand (no Docker here) and pushed with skopeo."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SKOPEO_BIN = shutil.which("skopeo") or "/usr/bin/skopeo"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def require_tools() -> None:
    missing = [b for b in (REGISTRY_BIN, SKOPEO_BIN) if not os.path.exists(b)]
    if missing:
        message = f"needs {', '.join(missing)} (.ci/install-system-deps installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run this test, never skip it
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _image(layout: Path, content: str, arch: str = "amd64") -> dict[str, object]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = content.encode()
        info = tarfile.TarInfo("app/version.txt")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = _blob(layout, gzip.compress(layer_tar, mtime=0))
    config = _blob(
        layout,
        json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
                "config": {"Cmd": ["/app/run"]},
            }
        ).encode(),
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
        }
    ).encode()
    return {"mediaType": MANIFEST_TYPE, **_blob(layout, manifest), "platform": {"architecture": arch, "os": "linux"}}


def write_layout(layout: Path, tag: str, content: str, *, platforms: tuple[str, ...] = ()) -> str:
    """An OCI image layout holding one image (or a multi-arch index); returns the top manifest digest."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    if platforms:
        manifests = [_image(layout, f"{content}/{arch}", arch) for arch in platforms]
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}).encode()
        top = {"mediaType": INDEX_TYPE, **_blob(layout, index)}
    else:
        top = _image(layout, content)
        top.pop("platform")
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return str(top["digest"])


def push(layout: Path, tag: str, dest: str, *, creds: str | None = None) -> None:
    cmd = [
        SKOPEO_BIN,
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--all",
        "--preserve-digests",
        f"oci:{layout}:{tag}",
        f"docker://{dest}",
    ]
    if creds:
        cmd.insert(2, f"--dest-creds={creds}")
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


class Registry:
    """`with Registry(tmp_path, notify_url=..., notify_token=...) as reg:` -> reg.host is 127.0.0.1:PORT."""

    def __init__(
        self,
        root: Path,
        *,
        notify_url: str | None = None,
        notify_token: str | None = None,
        htpasswd: Path | None = None,
        token_auth: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": "test-only-secret"},
        }
        if notify_url:
            endpoint: dict[str, object] = {
                "name": "eci-redeploy",
                "url": notify_url,
                "timeout": "3s",
                "threshold": 5,
                "backoff": "1s",
            }
            if notify_token:
                endpoint["headers"] = {"Authorization": [f"Bearer {notify_token}"]}
            config["notifications"] = {"endpoints": [endpoint]}
        if htpasswd:
            config["auth"] = {"htpasswd": {"realm": "test", "path": str(htpasswd)}}
        if token_auth:
            config["auth"] = {"token": token_auth}
        (root / "config.yml").write_text(json.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Registry:
        require_tools()
        self.proc = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(self.root / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # 401 with auth enabled: it is up
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("docker-registry did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


@contextlib.contextmanager
def serve_live(rules: Path, port: int, fake: object, token: str, log_path: Path):  # type: ignore[no-untyped-def]
    """`eci-redeploy serve --live` in a subprocess, pointed at a FakeEciServer, its stderr in `log_path`."""
    import sys

    from helpers import ROOT, wait_for_url

    key, secret = fake.credentials  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "shared"),
        "ECI_REDEPLOY_WEBHOOK_TOKEN": token,
        "ECI_REDEPLOY_ECI_ENDPOINT": fake.url,  # type: ignore[attr-defined]
        "ALIBABA_CLOUD_ACCESS_KEY_ID": key,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
    }
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "eci_redeploy.cli", "serve", "--port", str(port), "--rules", str(rules), "--live"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_for_url(f"http://127.0.0.1:{port}/healthz")
            yield serve
        finally:
            serve.terminate()
            serve.wait(10)

#!/usr/bin/env python3
"""Add sha256 hashes (pip's --require-hashes format) to requirements/*.lock, from the files pip downloads.

    .venv/bin/python scripts/hash_locks.py            # rewrite the three locks in place

Every install then runs with --require-hashes (Makefile `setup`, scripts/build_functions.py): a file on
the index that changed under a pinned version is refused instead of installed. Which files count:

- build.lock, dev.lock: what `pip download` picks on this machine for this interpreter (the files
  `make setup` installs here, sdists included);
- runtime.lock: those (scripts/build_functions.py first builds every pin on this machine), plus the
  wheels pip picks for Function Compute (`--platform manylinux2014_x86_64 --python-version 3.10
  --implementation cp --only-binary=:all:`) for the pins that have such wheels. Wheels built here from
  an sdist are not on the index: build_functions.py adds their hashes itself, after building them from
  the hash-checked sdist.

Run it after changing a pin; the versions are not changed, only hashes added or replaced.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
TARGET = ["--platform", "manylinux2014_x86_64", "--python-version", "3.10", "--implementation", "cp"]


def entries(text: str) -> tuple[list[str], dict[str, str]]:
    """(the lock's lines with hash options and continuations folded away, {normalised name: pin line})."""
    lines, pins = [], {}
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        bare = re.sub(r"\s*--hash=\S+", "", line).rstrip()
        lines.append(bare)
        pin = bare.split("#", 1)[0].strip()
        if pin:
            pins[normalise(pin.partition("==")[0])] = pin
    return lines, pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def download(pins: list[str], *extra: str) -> dict[str, set[str]]:
    """{project: sha256 of each file pip downloads for `pins`}; with `extra` (the target platform), pins
    without a fitting file are skipped. One folder per pin: a file is the pin's whatever its name."""
    out: dict[str, set[str]] = {}
    for pin in pins:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, *extra, pin],
                capture_output=True,
                text=True,
            )
            if done.returncode and not extra:
                raise SystemExit(f"pip download {pin} failed:\n{done.stderr}")
            found = out.setdefault(normalise(pin.partition("==")[0]), set())
            found.update(hashlib.sha256(f.read_bytes()).hexdigest() for f in Path(tmp).iterdir())
    return out


def rewrite(path: Path, hashes: dict[str, set[str]]) -> None:
    lines, _ = entries(path.read_text())
    out = []
    for line in lines:
        pin = line.split("#", 1)[0].strip()
        if not pin:
            out.append(line)
            continue
        found = sorted(hashes.get(normalise(pin.partition("==")[0]), ()))
        if not found:
            raise SystemExit(f"{path.name}: no file downloaded for {pin}")
        out.append(" \\\n".join([pin, *(f"    --hash=sha256:{h}" for h in found)]))
    path.write_text("\n".join(out) + "\n")


def main() -> int:
    for name in ("build.lock", "dev.lock", "runtime.lock"):
        path = LOCKS / name
        _, pins = entries(path.read_text())
        hashes = download(list(pins.values()))
        if name == "runtime.lock":
            for project, found in download(list(pins.values()), *TARGET, "--only-binary=:all:").items():
                hashes.setdefault(project, set()).update(found)
        rewrite(path, hashes)
        print(f"{name}: {len(pins)} pins hashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

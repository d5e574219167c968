#!/usr/bin/env python3
"""Assemble each function's code folder for Function Compute (python3.10, x86_64), without Docker.

build/<function>/index.py           the entry point from functions/<function>/
build/<function>/rules.yaml         the rules (and the templates they name, same relative paths)
build/<function>/python/            eci_redeploy + pinned dependencies for manylinux2014_x86_64 / cp310

Several Alibaba SDK packages exist only as source distributions, so they are first built into
py3-none-any wheels on this machine, then everything is installed for the target platform. The
sdists are built without build isolation, with the setuptools pinned in requirements/build.lock:
run this from the project's venv (`make build`, or `make wheelhouse` for the dependencies only).

    .venv/bin/python scripts/build_functions.py [--rules rules.yaml] [--out build] [--functions push,webhook]
    .venv/bin/python scripts/build_functions.py --deps-only
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("push", "webhook", "worker", "timer")


def run(*cmd: str) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def lock_entries(path: Path) -> list[tuple[str, str, list[str]]]:
    """A lock file's pins as (name, version, sha256 hashes), continuation lines folded."""
    out = []
    for line in re.sub(r"\\\n\s*", " ", path.read_text()).splitlines():
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        pin = re.sub(r"\s*--hash=\S+", "", line).split("#", 1)[0].strip()
        if pin:
            name, _, version = pin.partition("==")
            out.append((name.strip(), version.strip(), hashes))
    return out


def pinned_build_tools() -> dict[str, str]:
    """requirements/build.lock as {name: version}."""
    return {name.lower(): version for name, version, _ in lock_entries(ROOT / "requirements" / "build.lock")}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def with_built_wheels(lock: Path, wheelhouse: Path, out: Path) -> Path:
    """The lock with the hash of each wheel built here from a hash-checked sdist added to its pin (they are
    not on any index), so that the install for Function Compute can run with --require-hashes too."""
    import hashlib

    built: dict[str, list[str]] = {}
    for wheel in wheelhouse.glob("*.whl"):
        built.setdefault(normalised(wheel.name.split("-")[0]), []).append(
            hashlib.sha256(wheel.read_bytes()).hexdigest()
        )
    lines = []
    for name, version, hashes in lock_entries(lock):
        extra = [h for h in built.get(normalised(name), []) if h not in hashes]
        lines.append(" ".join([f"{name}=={version}", *(f"--hash=sha256:{h}" for h in [*hashes, *extra])]))
    out.write_text("\n".join(lines) + "\n")
    return out


def check_build_tools() -> None:
    """The sdists are built with this interpreter's own setuptools (no isolation): it must be the pinned one,
    else the build would depend on whatever the machine happens to have (or fail without `wheel`)."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = []
    for name, pinned in pinned_build_tools().items():
        try:
            found = version(name)
        except PackageNotFoundError:
            found = "missing"
        if found != pinned:
            wrong.append(f"{name} {found} (requirements/build.lock pins {pinned})")
    if wrong:
        raise SystemExit(
            f"build_functions.py: {sys.executable} has {', '.join(wrong)}; "
            "run it from the project venv: `make build` (or `make wheelhouse` for the dependencies only)"
        )


def dependencies(cache: Path) -> Path:
    lock = ROOT / "requirements" / "runtime.lock"
    target = cache / "deps"
    stamp = target / ".lock"
    # the wheels built here depend on the build tools too
    wanted = lock.read_text() + (ROOT / "requirements" / "build.lock").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return target  # already built for these lock files: nothing here needs the package index
    check_build_tools()
    wheelhouse = cache / "wheelhouse"
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(wheelhouse, ignore_errors=True)  # only wheels of this lock: their hashes are added below
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # Every download (wheel or sdist) is checked against the lock's hashes.
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--require-hashes", "-w", str(wheelhouse), "-r", str(lock))
    hashed = with_built_wheels(lock, wheelhouse, cache / "runtime-with-built-wheels.lock")
    run(
        *pip,
        "install",
        "--require-hashes",
        "--no-deps",
        "--target",
        str(target),
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.10",
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--find-links",
        str(wheelhouse),
        "-r",
        str(hashed),
    )
    stamp.write_text(wanted)
    return target


def rules_files(rules: Path) -> tuple[list[Path], Any]:
    """The rules file and every template it names (relative to the rules file), and the validated rules."""
    sys.path.insert(0, str(ROOT / "shared"))
    from eci_redeploy.rules.model import load_rules

    loaded = load_rules(rules)
    files = [Path(rules.name), *sorted({Path(r.target.template) for r in loaded if r.target.template})]
    return files, loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=None, help="rules file (default: rules.yaml, else examples/rules.yaml)")
    parser.add_argument("--out", default=str(ROOT / "build"))
    parser.add_argument("--functions", default=",".join(FUNCTIONS))
    parser.add_argument("--deps-only", action="store_true", help="only build the dependency cache (.build-cache/)")
    args = parser.parse_args()
    if args.deps_only:
        print(f"dependencies in {dependencies(ROOT / '.build-cache')}")
        return 0
    rules = (
        Path(args.rules)
        if args.rules
        else (ROOT / "rules.yaml" if (ROOT / "rules.yaml").exists() else ROOT / "examples" / "rules.yaml")
    )
    out = Path(args.out)
    deps = dependencies(ROOT / ".build-cache")
    files, loaded = rules_files(rules)
    from eci_redeploy.core.yamlio import load_yaml_file
    from eci_redeploy.rules.watched import write_index

    document = load_yaml_file(rules)

    for name in args.functions.split(","):
        folder = out / name
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(deps, folder / "python", ignore=shutil.ignore_patterns(".lock", "__pycache__"))
        shutil.copytree(
            ROOT / "shared" / "eci_redeploy",
            folder / "python" / "eci_redeploy",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.copy2(ROOT / "functions" / name / "index.py", folder / "index.py")
        for rel in files:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(rules.parent / rel, folder / ("rules.yaml" if rel == Path(rules.name) else rel))
        # lets an unwatched push skip the heavy imports, and a matched one the YAML parser
        write_index(
            folder / "rules.yaml",
            [r.source.repository for r in loaded],
            document=document,
            templates=loaded.templates,
            template_files={str(rel): folder / rel for rel in files if rel != Path(rules.name)},
            validated=loaded.dump(),
        )
        print(f"built {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

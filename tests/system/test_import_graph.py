"""No import cycles inside the package, and the layering the cold path depends on.

The graph is read from the source with `ast`, and it counts every import: module-level ones, those
inside functions, and those under `if TYPE_CHECKING:`. A function-level import only hides a cycle
from the interpreter (it no longer fails at import time), not from the reader: the two modules
still cannot be understood, tested or moved apart, and the next edit that hoists the import turns
it into a crash. rollout <-> prewarm was such a cycle. Type-only imports count for the same reason.
Any strongly connected component of more than one module (any cycle) fails; `graphlib` finds it.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "shared" / "eci_redeploy"


def module_files(package: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    out = {}
    for file in sorted(package.rglob("*.py")):
        parts = list(file.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (file, is_package)
    return out


def _absolute(module: str, current: str, is_package: bool, level: int) -> str:
    if not level:
        return module
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports, anywhere in its source."""
    modules = module_files(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (file, is_package) in modules.items():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module or "", name, is_package, node.level)
                # `from . import x` / `from .a import b`: b may be a submodule or a name in a
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # a name inside a module: the module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
                    graph[name].update(_packages_entered(target, name, modules))
    return graph


def _packages_entered(target: str, importer: str, modules: dict[str, tuple[Path, bool]]) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first, except the importer's own packages,
    which are already running."""
    parts, own = target.split("."), importer.split(".")
    return {
        ".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules and parts[:i] != own[:i]
    }


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40 and graph["eci_redeploy.planning.planner"]  # the walk did see the package
    found = cycle(graph)
    assert found is None, "import cycle: " + " -> ".join(found or [])


def test_the_subpackages_have_no_cycle_between_them():
    # Each subpackage (adapters/, fake/, ... and, after the relayout, core/, planning/, ...) as one
    # node: the layout must read as a flow, not only be free of module cycles.
    def node(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, targets in import_graph(PACKAGE).items():
        packages.setdefault(node(module), set()).update(node(t) for t in targets if node(t) != node(module))
    found = cycle(packages)
    assert found is None, "cycle between subpackages: " + " -> ".join(found or [])


# The flow of docs/architecture.md, bottom up: a package may import only packages of a lower rank.
RANKS = {
    "core": 0,
    "events": 1,
    "rules": 1,
    "clients": 1,
    "fake": 2,
    "planning": 2,
    "report": 2,
    "execution": 3,
    "gates": 4,
    "pipeline": 5,
    "operations": 6,
    "functions": 7,
    "cli": 8,
}


def test_the_subpackages_depend_one_way():
    def node(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else ""

    upward = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph(PACKAGE).items()
        for target in targets
        if node(module) and node(target) and node(module) != node(target)
        if RANKS[node(target)] >= RANKS[node(module)]
    )
    assert upward == []
    assert set(RANKS) == {node(m) for m in module_files(PACKAGE) if node(m)}  # every package has a rank


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        # The rules model is below the cold path: the fast path may read the rules' index, never
        # the other way round (and the index module stays standard-library only).
        ("eci_redeploy.rules.model", "eci_redeploy.rules.watched"),
        ("eci_redeploy.rules.index", "eci_redeploy.rules.model"),
        ("eci_redeploy.rules.watched", "eci_redeploy.rules.model"),
        ("eci_redeploy.rules.watched", "eci_redeploy.rules.tagpolicy"),
        # Classifying a host is pure; the execution modules are above it.
        ("eci_redeploy.planning.registry_kinds", "eci_redeploy.operations.reconcile"),
        ("eci_redeploy.planning.confirm", "eci_redeploy.operations.reconcile"),
        ("eci_redeploy.execution.prewarm", "eci_redeploy.execution.rollout"),
    ],
)
def test_layering(module, forbidden):
    graph = import_graph(PACKAGE)
    reachable, todo = set(), [module]
    while todo:
        for target in graph[todo.pop()] - reachable:
            reachable.add(target)
            todo.append(target)
    assert forbidden not in reachable, f"{module} depends on {forbidden}"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pkg"
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


@pytest.mark.parametrize(
    "files",
    [
        # hidden in a function, relative
        {"__init__.py": "", "a.py": "def f():\n    from .b import g\n", "b.py": "from .a import f\n"},
        # absolute, through a subpackage and its __init__
        {"__init__.py": "", "a.py": "import pkg.sub.c\n", "sub/__init__.py": "from ..a import x\n", "sub/c.py": ""},
        # `from . import x` names a submodule; type-only imports count
        {
            "__init__.py": "",
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n",
            "b.py": "from . import a\n",
        },
    ],
)
def test_the_walk_finds_cycles_of_every_import_form(tmp_path, files):
    found = cycle(import_graph(_package(tmp_path, files)))
    assert found is not None and len(set(found)) >= 2


def test_the_walk_does_not_invent_cycles(tmp_path):
    files = {"__init__.py": "from . import a\n", "a.py": "from . import b\nimport json\n", "b.py": "from .c import x\n"}
    files["c.py"] = "x = 1\n"
    assert cycle(import_graph(_package(tmp_path, files))) is None


def long_functions(package: Path, limit: int = 60) -> list[str]:
    """Functions (methods included) longer than `limit` lines, decorators and docstring counted."""
    out = []
    for file in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > limit:
                    out.append(f"{file.relative_to(package.parent)}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_no_function_is_longer_than_60_lines():
    assert long_functions(PACKAGE) == []


def test_the_length_check_counts_lines(tmp_path):
    lines = "".join(f"    x{i} = {i}\n" for i in range(58))
    files = {
        "a.py": f"@staticmethod\ndef sixty():\n{lines}",  # decorator + def + 58 = 60 lines
        "b.py": f"def sixty_one():\n{lines}    y = 1\n    return y\n",  # def + 60 = 61 lines
    }
    assert [line.split()[1] for line in long_functions(_package(tmp_path, files))] == ["sixty_one"]


def private_imports(package: Path) -> list[str]:
    """`from <another subpackage> import _name`: a name its own package keeps to itself, taken across
    the package line (issue 27: operations/ imported the planner's `_runs_pushed_repository`). Inside
    one subpackage a private helper may be shared; across packages it must be made public (or moved)
    so the owner knows someone else depends on it."""
    modules = module_files(package)

    def home(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out = []
    for name, (file, is_package) in modules.items():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _absolute(node.module or "", name, is_package, node.level)
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                private = [part for part in f"{base}.{alias.name}".split(".")[1:] if part.startswith("_")]
                private = [part for part in private if not (part.startswith("__") and part.endswith("__"))]
                if private and target.startswith(package.name) and home(target) != home(name):
                    out.append(f"{name} imports {base}.{alias.name}")
    return out


def test_no_private_name_is_imported_across_packages():
    assert private_imports(PACKAGE) == []


def test_the_private_import_check_sees_both_sides_of_the_line(tmp_path):
    files = {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/x.py": "def _helper(): ...\ndef public(): ...\n",
        "a/y.py": "from .x import _helper\n",  # same package: allowed
        "b/__init__.py": "",
        "b/z.py": "from ..a.x import _helper, public\n",  # across packages: refused
        "b/w.py": "from pkg.a.x import public\nfrom pkg.a import __init__\n",
    }
    assert private_imports(_package(tmp_path, files)) == ["pkg.b.z imports pkg.a.x._helper"]


def named_but_missing(package: Path) -> list[str]:
    """A package docstring's "- `name`: ..." lines name its modules; each must exist (issue 27: the
    gates docstring listed `spec` and `http`, neither a module)."""
    import re

    out = []
    for init in sorted(package.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        for name in re.findall(r"^- `([A-Za-z_]\w*)(?:\.py)?`", doc, re.M):
            if not ((init.parent / f"{name}.py").exists() or (init.parent / name / "__init__.py").exists()):
                out.append(f"{init.relative_to(package.parent)}: {name}")
    return out


def test_each_module_a_package_docstring_names_exists(tmp_path):
    assert named_but_missing(PACKAGE) == []
    files = {"__init__.py": '"""Parts.\n\n- `real`: here.\n- `gone.py`: not.\n"""\n', "real.py": ""}
    assert named_but_missing(_package(tmp_path, files)) == ["pkg/__init__.py: gone"]


HASHES = frozenset({"client_token", "transition_token"})


def token_hashing_outside_tokens(package: Path) -> list[str]:
    """Where a module other than planning/tokens.py (which chooses every token's inputs, issue 27) and
    core/idempotency.py (the hash) calls or imports `client_token` / `transition_token`: a token built
    at its call site is a token whose inputs no one reviews with the others (tests/planning/test_token_inputs.py
    pins those in planning/tokens.py). An attribute call (`idempotency.client_token(...)`) counts; a
    property read without a call (`step.client_token`) does not."""
    homes = {f"{package.name}.planning.tokens", f"{package.name}.core.idempotency"}
    out = []
    for name, (file, _) in module_files(package).items():
        if name in homes:
            continue
        where = file.relative_to(package.parent)
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            if isinstance(node, ast.ImportFrom):
                out += [f"{where}:{node.lineno} imports {a.name}" for a in node.names if a.name in HASHES]
            elif isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called in HASHES:
                    out.append(f"{where}:{node.lineno} calls {called}(")
    return out


def test_only_planning_tokens_builds_a_client_token():
    assert token_hashing_outside_tokens(PACKAGE) == []


def test_the_token_check_sees_calls_and_imports(tmp_path):
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/idempotency.py": "def client_token(*p): ...\ndef transition_token(*p, **k): ...\nclient_token('a')\n",
        "planning/__init__.py": "",
        "planning/tokens.py": "from ..core.idempotency import client_token\ndef t(): return client_token('x')\n",
        "planning/steps.py": "class S:\n    @property\n    def client_token(self): ...\n"
        "def f(s): return s.client_token\n",
        "execution/__init__.py": "",
        "execution/a.py": "from ..core.idempotency import transition_token as tt\n",
        "execution/b.py": "from ..core import idempotency\nx = idempotency.client_token('undo')\n",
    }
    assert token_hashing_outside_tokens(_package(tmp_path, files)) == [
        "pkg/execution/a.py:1 imports transition_token",
        "pkg/execution/b.py:2 calls client_token(",
    ]


def parameter_counts(file: Path) -> dict[str, int]:
    """Function name -> its named parameters (positional and keyword-only; not *args / **kwargs)."""
    out = {}
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            out[node.name] = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
    return out


def test_the_scaling_planners_take_one_context():
    # issue 27: _plan_group, _configuration and _instances took the same 7 parameters (plan, event, rule,
    # view, env, live, reuse) and _batch 6; they take planning/scaling.py's _ScalingCase now. plan_scaling,
    # the planner's entry, keeps the planner's signature (planning/planner.py calls it).
    counts = parameter_counts(PACKAGE / "planning" / "scaling.py")
    assert counts["_plan_group"] == counts["_configuration"] == counts["_instances"] == 2  # (plan, case)
    assert {name: n for name, n in counts.items() if n > 5 and name != "plan_scaling"} == {}

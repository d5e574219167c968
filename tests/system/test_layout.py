"""The test tree follows its map, tests/README.md (issue 27: "a layout by pipeline stage that tells a
maintainer where a test goes"), so the map and the tree cannot drift:

- every test module is in one of the folders the map's table lists, and each listed folder exists and
  holds tests;
- each package of shared/eci_redeploy/ has its folder;
- test module names are unique (pytest's default import mode imports a test module by its name alone,
  so two `test_x.py` in two folders fail to collect);
- no test module imports another: what two share lives in a helper in tests/, which every folder
  imports by name (`pythonpath = ["tests"]`); an import of another folder's test module works only when
  pytest happened to collect that folder first.

Each check returns what is wrong; the last test runs them on a tree made to be wrong, so they can fail."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from helpers import ROOT

TESTS = ROOT / "tests"
PACKAGE = ROOT / "shared" / "eci_redeploy"
ROW = re.compile(r"^\| `([a-z_]+)/` \|", re.M)  # a row of the map's table: | `folder/` | ... |


def listed_folders(tests: Path) -> list[str]:
    return ROW.findall((tests / "README.md").read_text())


def modules_of(tests: Path) -> list[Path]:
    return sorted(p for p in tests.rglob("test_*.py") if "node_modules" not in p.parts)


def misplaced(tests: Path) -> list[str]:
    folders = set(listed_folders(tests))
    return [
        str(p.relative_to(tests))
        for p in modules_of(tests)
        if len(p.relative_to(tests).parts) != 2 or p.relative_to(tests).parts[0] not in folders
    ]


def missing_or_empty(tests: Path) -> list[str]:
    return [f"{name}/" for name in listed_folders(tests) if not list((tests / name).glob("test_*.py"))]


def packages_without_a_folder(tests: Path, package: Path) -> list[str]:
    folders = set(listed_folders(tests))
    return sorted(p.parent.name for p in package.glob("*/__init__.py") if p.parent.name not in folders)


def duplicate_names(tests: Path) -> list[str]:
    counts = Counter(p.name for p in modules_of(tests))
    return sorted(name for name, n in counts.items() if n > 1)


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif (  # __import__("test_x")
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def cross_imports(tests: Path) -> list[str]:
    """Test modules importing test modules (or importing anything from them), and helpers doing so."""
    modules = {p.stem for p in modules_of(tests)}
    sources = sorted({*modules_of(tests), *tests.glob("*.py")})  # the helpers at the top, and every test
    out = []
    for path in sources:
        hits = sorted(imported_modules(ast.parse(path.read_text())) & (modules - {path.stem}))
        out += [f"{path.relative_to(tests)} imports {name}" for name in hits]
    return out


def test_every_test_module_is_in_a_folder_the_map_lists():
    assert len(listed_folders(TESTS)) >= 12, "tests/README.md's table lists the stage folders"
    assert not misplaced(TESTS), f"move into a folder of tests/README.md (or list it there): {misplaced(TESTS)}"


def test_every_folder_the_map_lists_exists_and_holds_tests():
    assert not missing_or_empty(TESTS), f"listed in tests/README.md, no tests there: {missing_or_empty(TESTS)}"


def test_every_package_has_its_test_folder():
    missing = packages_without_a_folder(TESTS, PACKAGE)
    assert not missing, f"shared/eci_redeploy/ packages without a folder in tests/README.md: {missing}"


def test_test_module_names_are_unique_across_folders():
    assert not duplicate_names(TESTS), f"rename one of each: {duplicate_names(TESTS)}"


def test_no_test_module_imports_another():
    assert not cross_imports(TESTS), f"move what they share into a helper in tests/: {cross_imports(TESTS)}"


def test_the_checks_find_a_tree_that_breaks_the_map(tmp_path):
    tests, package = tmp_path / "tests", tmp_path / "pkg"
    (tests / "planning").mkdir(parents=True)
    (tests / "gates").mkdir()
    (tests / "README.md").write_text("| folder | what |\n|---|---|\n| `planning/` | x |\n| `events/` | y |\n")
    (tests / "test_flat.py").write_text("")  # at the top, outside every folder
    (tests / "gates" / "test_hold.py").write_text("")  # a folder the map does not list
    (tests / "planning" / "test_hold.py").write_text("import test_flat\n")  # same name; imports a test
    (tests / "planning" / "test_plan.py").write_text("from test_hold import x\n__import__('test_flat')\n")
    (tests / "shared_helper.py").write_text("from test_plan import y\n")  # a helper must not either
    for name in ("planning", "report"):
        (package / name).mkdir(parents=True)
        (package / name / "__init__.py").write_text("")
    assert misplaced(tests) == ["gates/test_hold.py", "test_flat.py"]
    assert missing_or_empty(tests) == ["events/"]
    assert packages_without_a_folder(tests, package) == ["report"]
    assert duplicate_names(tests) == ["test_hold.py"]
    assert cross_imports(tests) == [
        "planning/test_hold.py imports test_flat",
        "planning/test_plan.py imports test_flat",
        "planning/test_plan.py imports test_hold",
        "shared_helper.py imports test_plan",
    ]

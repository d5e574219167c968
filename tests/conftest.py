from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eci_redeploy.rules import RuleSet, parse_rules


@pytest.fixture
def make_rules(tmp_path: Path) -> Callable[..., RuleSet]:
    """Rules from plain dicts; `templates` are written beside the rules file."""

    def build(*rules: dict[str, Any], templates: dict[str, dict[str, Any]] | None = None) -> RuleSet:
        for name, body in (templates or {}).items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(yaml.safe_dump(body))
        return parse_rules({"version": 1, "rules": list(rules)}, source="rules.yaml", base_dir=tmp_path)

    return build

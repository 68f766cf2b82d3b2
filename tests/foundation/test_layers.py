"""The layering contract (docs/architecture.md), checked on every import statement, those inside functions too.

- core and reference import no app (reference imports only core);
- an app imports another only through its doors: `selectors`, `services`, its vocabulary (`models`, `choices`,
  `errors`), shared output shapes (`serializers`) and the named door modules below;
- no app imports web; no cycle between apps; selectors only read.

Run by `make lint` (and so by `make test`). Pure: parses the source, imports nothing, needs no database.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "core",
    "reference",
    "accounts",
    "filing",
    "ecode",
    "notifications",
    "settlement",
    "web",
    "config",
)
FOUNDATION = {"core": set(), "reference": {"core"}}
# Every app's own doors: what another app may import of it.
DOORS = {"selectors", "services", "models", "choices", "errors", "serializers"}
# Doors named for the one rule they decide.
NAMED_DOORS = {
    "accounts.scopes",  # which rows a staff user may see
    "accounts.permissions",  # who may call an endpoint
    "accounts.person_search",  # finding a person in admin without personal data in URLs
    "accounts.tokens",  # bearer tokens
    "ecode.qr",  # an e-code drawn as a QR image
    "filing.coverage",  # which filing is in force, and where it settles
    "filing.policy",  # the national filing rules
    "filing.dates",  # filing's calendar (validity months, working days)
    "reference.signals",  # reference data changed in bulk
}
# Importers outside the contract: URL and settings wiring, and the demo data set `make run` loads (it seeds
# every app, in dependency order, through their services).
EXEMPT_IMPORTERS = {"config", "core.demo"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import of one of our packages."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = _module_name(path)
            is_package = path.name == "__init__.py"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = module.split(".")
                        base = base[: len(base) - node.level + (1 if is_package else 0)]
                        source = ".".join(base + ([node.module] if node.module else []))
                    else:
                        source = node.module or ""
                    # `from filing import selectors` imports the module filing.selectors.
                    targets = [
                        f"{source}.{alias.name}" if _is_module(f"{source}.{alias.name}") else source
                        for alias in node.names
                    ]
                for target in targets:
                    if target.split(".")[0] in PACKAGES:
                        found.append((module, target, node.lineno))
    return found


def _app(module: str) -> str:
    return module.split(".")[0]


def _exempt(module: str) -> bool:
    return any(module == e or module.startswith(e + ".") for e in EXEMPT_IMPORTERS)


def _cross_app() -> list[tuple[str, str, int]]:
    return [(a, b, line) for a, b, line in _imports() if _app(a) != _app(b) and not _exempt(a)]


def test_core_and_reference_import_no_app():
    wrong = [
        f"{a}:{line} imports {b}"
        for a, b, line in _cross_app()
        if _app(a) in FOUNDATION and _app(b) not in FOUNDATION[_app(a)]
    ]
    assert wrong == []


def test_no_app_imports_web():
    assert [f"{a}:{line} imports {b}" for a, b, line in _cross_app() if _app(b) == "web"] == []


def test_apps_meet_only_through_their_doors():
    def door(target: str) -> bool:
        if _app(target) == "core":  # the foundation every app builds on
            return True
        parts = target.split(".")
        return (len(parts) == 2 and parts[1] in DOORS) or target in NAMED_DOORS

    wrong = [f"{a}:{line} imports {b}" for a, b, line in _cross_app() if not door(b)]
    assert wrong == []


def test_no_cycle_between_apps():
    uses: dict[str, set[str]] = defaultdict(set)
    for a, b, _line in _cross_app():
        uses[_app(a)].add(_app(b))

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            if here == goal:
                return True
            if here not in seen:
                seen.add(here)
                todo.extend(uses[here])
        return False

    cycles = [(a, b) for a, b in itertools.permutations(PACKAGES, 2) if b in uses[a] and reaches(b, a)]
    assert cycles == []


def test_the_contract_sees_imports_inside_functions():
    # The check itself: filing.selectors reads the policy rules inside its module, settlement.apps imports
    # filing.policy inside ready(); both must be found.
    found = {(a, b) for a, b, _line in _imports()}
    assert ("settlement.apps", "filing.policy") in found
    assert ("accounts.apps", "reference.signals") in found


WRITES = {
    "create",
    "get_or_create",
    "update_or_create",
    "bulk_create",
    "bulk_update",
    "save",
    "delete",
    "update",
}


def test_selectors_only_read():
    # Reads in selectors, writes in services: no selector calls a write method of the ORM.
    wrong = []
    for path in sorted(ROOT.glob("*/selectors.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITES
            ):
                wrong.append(f"{_module_name(path)}:{node.lineno} calls .{node.func.attr}()")
    assert wrong == []

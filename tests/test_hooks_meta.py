"""Every hook has a test and a documented heading whose signature matches its
specification, so a hook added later without either fails the build."""

import ast
import inspect
import re
from pathlib import Path

from portal import hookspecs

ROOT = Path(__file__).parent.parent


def hook_specs():
    return {name: function for name, function in vars(hookspecs).items()
            if name.startswith("portal_") and inspect.isfunction(function)}


def test_every_hook_has_a_docstring():
    for name, function in hook_specs().items():
        assert (function.__doc__ or "").strip(), f"hook {name} has no docstring"


def test_every_hook_has_a_test():
    tree = ast.parse((ROOT / "tests" / "test_hooks.py").read_text())
    tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    missing = [name for name in hook_specs() if f"test_hook_{name}" not in tests]
    assert not missing, f"hooks without a test_hook_<name> in tests/test_hooks.py: {missing}"


def test_every_hook_is_documented_with_its_signature():
    headings = dict(re.findall(r"^### (portal_\w+)\((.*)\)$",
                               (ROOT / "docs" / "plugins.md").read_text(), re.MULTILINE))
    for name, function in hook_specs().items():
        assert name in headings, f"docs/plugins.md has no '### {name}(…)' heading"
        documented = [part.strip() for part in headings[name].split(",") if part.strip()]
        assert documented == list(inspect.signature(function).parameters), \
            f"docs/plugins.md documents {name}({headings[name]}), the spec differs"

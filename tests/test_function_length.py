"""Every function of the package reads in one screen (at most 80 lines), and the
training loop has no closures."""

from __future__ import annotations

import ast
from pathlib import Path

import resnet_course

PACKAGE = Path(resnet_course.__file__).parent
LIMIT = 80


def long_functions() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LIMIT:
                    name = f"{path.relative_to(PACKAGE)}:{node.name}"
                    found.append(f"{name} ({lines} lines)")
    return found


def test_no_function_is_longer_than_80_lines():
    assert long_functions() == [], "split these into smaller functions"


def test_the_training_loop_has_no_closures():
    source = (PACKAGE / "trainer.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            nested = [
                n
                for n in ast.walk(node)
                if n is not node
                and isinstance(
                    n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
                )
            ]
            assert not nested, f"trainer.{node.name} defines a function inside"

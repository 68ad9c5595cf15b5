#!/usr/bin/env python3
"""The project's import graph between its packages, checked against the layering the README describes.

    qasynth_lib  <-  decoding  <-  core  <-  generation  <-  training
                     core  <-  annotation
                     analysis  stands on training and annotation;  firstrun (first-run set-up) on everything

Engines (``generation/engine``, ``training/engine``, ``training/metrics``, ``analysis/stats``) import no Django
and no app, only other engines and ``qasynth_lib``; ``analysis`` imports nothing inside a function body (its
dependencies are all below it, so a hidden import would only hide an arrow). Migrations are left out: they
name other apps by string.

    python scripts/import_graph.py           # print the arrows (package -> package: count) and any violation
    python scripts/import_graph.py --check   # exit 1 on a violation
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "qasynth_lib", "decoding", "core", "generation", "training", "annotation", "analysis", "firstrun", "qasynth_web",
)  # fmt: skip
ALLOWED: dict[str, set[str]] = {
    "qasynth_lib": set(),
    # The batched-decoding engine (no Django) every model-running app shares.
    "decoding": {"qasynth_lib"},
    "core": {"decoding", "qasynth_lib"},
    "generation": {"core", "decoding", "qasynth_lib"},
    "training": {"generation", "core", "decoding", "qasynth_lib"},
    "annotation": {"core", "decoding", "qasynth_lib"},
    "analysis": {"annotation", "training", "generation", "core", "decoding", "qasynth_lib"},
    "firstrun": {"analysis", "annotation", "training", "generation", "core", "decoding", "qasynth_lib"},
    # The project package: settings, URL map, WSGI and the Celery app; it names apps by string.
    "qasynth_web": {"core", "qasynth_lib"},
}
ENGINES = ("decoding", "generation/engine", "training/engine", "training/metrics", "analysis/engine", "analysis/stats")
NO_FUNCTION_IMPORTS = ("analysis",)


@dataclass(frozen=True)
class Import:
    source: Path
    line: int
    module: str
    in_function: bool

    @property
    def package(self) -> str:
        return self.module.split(".")[0]

    def where(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"


class _Collector(ast.NodeVisitor):
    def __init__(self, source: Path) -> None:
        self.source = source
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append(Import(self.source, node.lineno, alias.name, self.depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.found.append(Import(self.source, node.lineno, node.module, self.depth > 0))


def project_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                files.append(path)
    return files


def imports_of(path: Path) -> list[Import]:
    collector = _Collector(path)
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return collector.found


def owner(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def is_engine(path: Path) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return any(relative.startswith(engine + "/") for engine in ENGINES)


def violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        source = owner(imp.source)
        target = imp.package
        if target not in PACKAGES or target == source:
            if is_engine(imp.source) and target == "django":
                problems.append(f"{imp.where()}: engine imports Django ({imp.module})")
            if is_engine(imp.source) and target == source:
                engine_target = imp.module.replace(".", "/")
                if not any(engine_target.startswith(engine) for engine in ENGINES):
                    problems.append(f"{imp.where()}: engine imports its app ({imp.module})")
            if source in NO_FUNCTION_IMPORTS and target == source and imp.in_function:
                problems.append(f"{imp.where()}: import inside a function body ({imp.module})")
            continue
        if target not in ALLOWED[source]:
            problems.append(f"{imp.where()}: {source} imports {target} ({imp.module}), an arrow pointing up")
        elif (
            is_engine(imp.source)
            and target not in ("qasynth_lib", "decoding")
            and not any(imp.module.replace(".", "/").startswith(engine) for engine in ENGINES)
        ):
            problems.append(f"{imp.where()}: engine imports an app ({imp.module})")
        if source in NO_FUNCTION_IMPORTS and imp.in_function:
            problems.append(f"{imp.where()}: import inside a function body ({imp.module})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when an import breaks the layering")
    args = parser.parse_args(argv)
    imports = [imp for path in project_files() for imp in imports_of(path)]
    arrows = Counter(
        (owner(imp.source), imp.package)
        for imp in imports
        if imp.package in PACKAGES and imp.package != owner(imp.source)
    )
    for (source, target), count in sorted(arrows.items()):
        print(f"{source:12s} -> {target:12s} {count:4d}")
    problems = violations(imports)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(problems)} violation(s)")
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())

"""The package layering, checked on the source. Parsing, chunking and answering never reach into storage
(``docrag.index``) or search (``docrag.retrieve``), nor into each other: what they share lives below them, in text
analysis (``docrag.text``), the model backends (``docrag.models``), the configuration and the types. The model
backends reach into no stage, and text analysis into nothing of docrag's. So each can be used, tested and replaced
alone. Imports inside functions and under TYPE_CHECKING count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "docrag"
STAGES = ("parse", "chunk", "index", "retrieve", "generate")
FORBIDDEN = {
    "parse": ("index", "retrieve", "chunk", "generate"),
    "chunk": ("index", "retrieve", "parse", "generate"),
    "generate": ("index", "retrieve", "parse", "chunk"),
    "models": STAGES,
    "text": (*STAGES, "models"),
}


def imported_modules(source: str) -> set[str]:
    """The modules some source imports anywhere in it (``from docrag import index`` counts as docrag.index).
    docrag imports absolutely, so a relative import is refused rather than resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level and node.module, f"relative import: from {'.' * node.level}{node.module or ''}"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", FORBIDDEN)
def test_package_keeps_to_its_layer(package):
    files = sorted((SRC / package).rglob("*.py"))
    assert files, f"no package docrag.{package}"
    bad = [f"{path.relative_to(SRC.parent)} imports {module}"
           for path in files for module in sorted(imported_modules(path.read_text(encoding="utf-8")))
           if any(within(module, f"docrag.{layer}") for layer in FORBIDDEN[package])]
    assert not bad, "\n".join(bad)


def test_the_check_sees_every_kind_of_import():
    source = ("import docrag.index.store\nfrom docrag import retrieve\nfrom typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from docrag.index.vectors import VectorIndex\n"
              "def f():\n    from docrag.retrieve.rerank import rerank\n")
    modules = imported_modules(source)
    assert {"docrag.index.store", "docrag.retrieve", "docrag.index.vectors", "docrag.retrieve.rerank"} <= modules
    assert not within("docrag.indexer", "docrag.index")
    with pytest.raises(AssertionError, match="relative import"):
        imported_modules("from ..index import store\n")

"""The layering contract (``[tool.importlinter]`` in ``pyproject.toml``, drawn in ``docs/architecture.md``),
checked by import-linter from the code's own imports, those inside functions included:

* the command (``memdash``) above the app (``dashboard``) above the library (``memory_core``): the library never
  imports the app (``tests/test_library_alone.py`` runs it without the app installed);
* inside the library and the app, each layer imports only the layers below it;
* pages and components reach stores only through ``dashboard.services``; the registry imports no store,
  embedder or toolkit module;
* no import cycles (only ``if TYPE_CHECKING:`` imports are left out).

``make lint`` runs the same contracts (``lint-imports``); running them here too makes ``make test`` say it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=folder, capture_output=True, text=True,
                          env={"PYTHONPATH": str(folder), "PATH": ""}, timeout=300)


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_page_importing_a_store_breaks_the_contract(tmp_path) -> None:
    """The contracts can fail: the same rules over a copy of the project in which the Browse page imports a store."""
    shutil.copytree(ROOT / "dashboard", tmp_path / "dashboard", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("memdash", "memory_core", "pyproject.toml"):
        (tmp_path / name).symlink_to(ROOT / name)
    with (tmp_path / "dashboard" / "app_pages" / "browse.py").open("a") as page:
        page.write("from memory_core.providers import in_memory  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "dashboard.app_pages is not allowed to import memory_core.providers" in result.stdout

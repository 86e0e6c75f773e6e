"""The toolkit in memdash's registry: a ``memdash.plugins`` entry point (``pyproject.toml``) that registers a
:class:`~memory_core.registry.Resolver`, asked after memdash's own types and plugins (``docs/toolkit.md``).

* The ``memdash_*`` names of memdash's types in the toolkit (:mod:`.names`) stand for memdash's names, with or
  without the toolkit installed, so one YAML file works in both.
* With the toolkit installed, a ``_type`` only a toolkit plugin has is built through the toolkit
  (:mod:`.fallback`, imported only then); without it, the error for an unknown type says what to install.
"""

from __future__ import annotations

from memory_core.nat import available
from memory_core.nat.names import memdash_name
from memory_core.registry import Registered, Resolver, register_resolver


class ToolkitResolver(Resolver):
    def resolve(self, kind: str, type_name: str) -> str | Registered | None:
        if ours := memdash_name(kind, type_name):
            return ours
        if not available():
            return None
        from memory_core.nat.fallback import toolkit_registration

        return toolkit_registration(kind, type_name)

    def unknown_hint(self, kind: str, type_name: str) -> str:
        return "" if available() else " (a toolkit plugin's type needs: pip install 'memdash[nat]')"


register_resolver(ToolkitResolver())

"""The toolkit's ``nat.components`` entry point (``pyproject.toml``): registers memdash's stores and embedders.

The toolkit imports it when it loads its plugins; importing it without the toolkit installed does nothing.
"""

from memory_core.nat import available

if available():
    from memory_core.nat import components  # noqa: F401 - registers on import

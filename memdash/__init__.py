"""The ``memdash`` command, above the library (``memory_core``) and the app (``dashboard``).

:mod:`memdash.cli` builds the parser; each group of sub-commands lives in its own module. Commands that need the
app (``run``, ``user``) import it only when it is installed, and otherwise say which extra to install.
"""

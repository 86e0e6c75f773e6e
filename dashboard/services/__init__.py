"""Everything the pages do, as plain functions without Streamlit: the only bridge from the pages to the stores.

:mod:`~dashboard.services.hub` holds the loaded config, its stores and its audit log; every write goes through
the hub's audited writer (``memory_core.audit``). The other modules are grouped by what the pages do with them:
:mod:`~dashboard.services.memories` (browse, search, edit, import, export), :mod:`~dashboard.services.catalog`
(the stores and what they can do), :mod:`~dashboard.services.audit` and :mod:`~dashboard.services.revert` (the
log, the trash, undo), :mod:`~dashboard.services.filters` (a view's filter in the URL), and the rest one page each.
"""

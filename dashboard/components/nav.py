"""The dashboard's pages in one table: ``app.py`` builds the navigation from it and every link points into it,
so a page's file, title, icon and URL are written once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parents[1] / "app_pages"


@dataclass(frozen=True)
class PageSpec:
    script: str
    title: str
    icon: str
    url_path: str

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.script

    @property
    def link(self) -> str:
        """What ``st.page_link`` and ``st.switch_page`` take: the script relative to ``app.py``."""
        return f"app_pages/{self.script}"


BROWSE = PageSpec("browse.py", "Browse", ":material/table_rows:", "browse")
SEARCH = PageSpec("search.py", "Search", ":material/search:", "search")
MEMORY = PageSpec("memory.py", "Memory", ":material/description:", "memory")
ADD = PageSpec("add.py", "Add", ":material/add:", "add")
AS_OF = PageSpec("as_of.py", "As of a date", ":material/history_toggle_off:", "as_of")
USERS = PageSpec("users.py", "Users", ":material/group:", "users")
TRANSFER = PageSpec("transfer.py", "Import / export", ":material/swap_vert:", "transfer")
STORES = PageSpec("stores.py", "Stores", ":material/database:", "stores")
AUDIT = PageSpec("audit.py", "Audit log", ":material/history:", "audit")
TRASH = PageSpec("trash.py", "Trash", ":material/delete:", "trash")
STATS = PageSpec("stats.py", "Analytics", ":material/monitoring:", "stats")
EVAL = PageSpec("eval.py", "Retrieval evaluation", ":material/fact_check:", "eval")
REVIEW = PageSpec("review.py", "Review queue", ":material/rule:", "review")
PLAYGROUND = PageSpec("playground.py", "Playground", ":material/forum:", "playground")

SECTIONS: dict[str, tuple[PageSpec, ...]] = {
    "Memories": (BROWSE, SEARCH, MEMORY, AS_OF, ADD),
    "Store": (USERS, TRANSFER, STORES, AUDIT, TRASH),
    "Insight": (STATS, EVAL, REVIEW, PLAYGROUND),
}

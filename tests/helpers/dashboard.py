"""Helpers for the dashboard's AppTest suite: per-test configs, seeding through the hub, test-only stores."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml
from streamlit.testing.v1 import AppTest

from dashboard import context
from dashboard.services import memories
from dashboard.services.hub import StoreHub
from memory_core.access import LOCAL_ADMIN
from memory_core.interfaces import Capability, MemoryEditor
from memory_core.models import MemoryItem
from memory_core.providers.in_memory import InMemoryEditor
from memory_core.records import MemoryFilter, MemoryRecord
from memory_core.registry import register_memory
from memory_core.typed import MemoryBaseConfig

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
# every page of the app, by its script name
PAGES = sorted(p.stem for p in (Path(APP).parent / "app_pages").glob("*.py") if not p.stem.startswith("_"))
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
HOSTILE = "<img src=x onerror=alert(1)> **bold** [link](http://evil.example) :red[red] $x^2$ <script>alert(2)</script>"


class SearchOnlyConfig(MemoryBaseConfig, name="test_search_only"):
    """A store with only the toolkit's add/search/remove (no browsing)."""


class SearchOnlyEditor(MemoryEditor):
    def __init__(self) -> None:
        self._inner = InMemoryEditor()

    async def add_items(self, items: list[MemoryItem], **kwargs: Any) -> None:
        await self._inner.add_items(items, **kwargs)

    async def search(self, query: str, top_k: int = 5, **kwargs: Any) -> list[MemoryItem]:
        return await self._inner.search(query, top_k, **kwargs)

    async def remove_items(self, **kwargs: Any) -> None:
        await self._inner.remove_items(**kwargs)


@register_memory(SearchOnlyConfig)
async def _search_only(config: SearchOnlyConfig, builder: object) -> AsyncIterator[SearchOnlyEditor]:
    yield SearchOnlyEditor()


class PerUserConfig(MemoryBaseConfig, name="test_per_user"):
    """An in_memory store that can only list one user's memories at a time."""


class PerUserEditor(InMemoryEditor):
    @property
    def capabilities(self) -> frozenset[Capability]:
        return super().capabilities - {Capability.LIST_ALL_USERS}


@register_memory(PerUserConfig)
async def _per_user(config: PerUserConfig, builder: object) -> AsyncIterator[PerUserEditor]:
    yield PerUserEditor()


class BrokenConfig(MemoryBaseConfig, name="test_broken"):
    """A store whose backend never starts."""


@register_memory(BrokenConfig)
async def _broken(config: BrokenConfig, builder: object) -> AsyncIterator[MemoryEditor]:
    raise ConnectionRefusedError("backend at 10.0.0.1:5432 refused the connection")
    yield  # pragma: no cover - an async generator that fails on entry


@dataclasses.dataclass
class Dash:
    """One test's config file and the hub the dashboard builds from it (shared through st.cache_resource)."""

    config: Path

    @classmethod
    def create(cls, folder: Path, stores: dict[str, dict[str, Any]] | None = None) -> Dash:
        path = folder / "memdash.yml"
        path.write_text(yaml.safe_dump({"memory": stores if stores is not None else {"main": {"_type": "in_memory"}}}))
        return cls(path)

    @property
    def hub(self) -> StoreHub:
        return context._hub_for(str(self.config))

    def app(self, page: str = "browse", /, **params: str | list[str]) -> AppTest:
        """An AppTest of the whole app (navigation included) on ``page``, with query params; not run yet."""
        at = AppTest.from_file(APP, default_timeout=30)
        at.session_state["config_path"] = str(self.config)
        at.switch_page(f"app_pages/{page}.py")
        for key, value in params.items():
            at.query_params[key] = value
        return at

    def add(self, store: str = "main", *, user: str = "alice", memory: str = "a memory", minutes: int = 0,
            **fields: Any) -> str:
        """Add one record with a known creation time (``T0 + minutes``); returns its id."""
        when = T0 + dt.timedelta(minutes=minutes)
        record = MemoryRecord(id=fields.pop("id", f"m{minutes:04d}-{user}"), created_at=when, updated_at=when,
                              item=MemoryItem(user_id=user, memory=memory, **fields))
        memories.import_records(self.hub, LOCAL_ADMIN, store, [record])
        return record.id

    def agent_write(self, store: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A write an agent makes to the store, outside memdash (no audit entry): the store's own method, called
        past the guard that keeps the dashboard's writes on the audited path."""
        editor = self.hub.editor(store)
        return self.hub.runner.run(getattr(type(editor), method)(editor, *args, **kwargs))

    def get(self, record_id: str, store: str = "main") -> MemoryRecord:
        return memories.get_memory(self.hub, store, record_id)

    def records(self, store: str = "main", **flt: Any) -> list[MemoryRecord]:
        return list(memories.export_records(self.hub, store, MemoryFilter(**flt)))

    def close(self) -> None:
        self.hub.close()


def texts(at: AppTest) -> list[str]:
    """Everything shown with st.text."""
    return [t.value for t in at.text]


def unescape(markdown: str) -> str:
    """Undo ``escape_markdown`` (backslash before ASCII punctuation) to compare with plain text."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def messages(at: AppTest, kind: str) -> list[str]:
    """The bodies of st.error / st.warning / st.info / st.success (or caption...) elements, as plain text:
    our own bold markers dropped, escaped user text unescaped."""
    return [unescape(re.sub(r"(?<!\\)\*\*", "", m.value)) for m in getattr(at, kind)]


MARKDOWN_KINDS = ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success")


def rendered_markdown(at: AppTest) -> list[str]:
    """The source of every element Streamlit renders as markdown (page-link labels included)."""
    bodies = [el.value for kind in MARKDOWN_KINDS for el in getattr(at, kind)]
    return bodies + [link.proto.label for link in at.page_link]


def assert_shown_as_text(at: AppTest, payload: str) -> None:
    """``payload`` never reaches markdown unescaped (so its HTML and markdown are not rendered)."""
    leaked = [body for body in rendered_markdown(at) if payload in body]
    assert not leaked, leaked


def ok(at: AppTest) -> AppTest:
    """Assert the run raised nothing (AppTest records page exceptions instead of raising them)."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    """Fill in the local sign-in form and send it."""
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()
    return ok(at.run())

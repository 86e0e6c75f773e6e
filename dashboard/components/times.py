"""Times as the operator reads them: in the browser's time zone, the zone named; stored times stay UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st


def local_zone() -> str:
    """The browser's time zone (``st.context.timezone``), or UTC when the browser does not say."""
    name = st.context.timezone or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def local_time(when: dt.datetime, *, seconds: bool = True) -> str:
    """``when`` in the operator's time zone, the zone named: ``2024-06-01 21:00:00 JST``."""
    shown = when.astimezone(ZoneInfo(local_zone()))
    return shown.strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")


def datetime_column(label: str, *, seconds: bool = False) -> object:
    """A table column of times shown in the operator's time zone."""
    return st.column_config.DatetimeColumn(label, format=f"YYYY-MM-DD HH:mm{':ss' if seconds else ''}",
                                           timezone=local_zone())

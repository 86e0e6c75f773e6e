"""The dashboard as an ASGI app: Streamlit plus the route that streams exports. ``memdash run`` serves this.

``streamlit run dashboard/server.py`` runs it on Streamlit's own server (uvicorn); ``dashboard/app.py`` alone
still runs, with downloads built in memory by ``st.download_button`` instead of streamed.
"""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from dashboard.services.downloads import MIME, ROUTE, TICKETS

APP = Path(__file__).parent / "app.py"
EXPIRED = "This download link has expired. Open Import / export again and click Download."


async def download(request: Request) -> Response:
    """Stream the export a ticket names; 404 (with what to do) for an unknown or lapsed ticket."""
    ticket = TICKETS.get(request.path_params["ticket"])
    if ticket is None:
        return PlainTextResponse(EXPIRED, status_code=404)
    headers = {"Content-Disposition": f'attachment; filename="{ticket.file_name}"', "Cache-Control": "no-store"}
    return StreamingResponse(ticket.chunks(), media_type=MIME[ticket.fmt], headers=headers)


@contextlib.asynccontextmanager
async def serving(_app: st.App) -> AsyncIterator[None]:
    """While this server runs, pages link to the streaming route (importing this module alone changes nothing)."""
    TICKETS.served = True
    try:
        yield
    finally:
        TICKETS.served = False


app = st.App(APP, routes=[Route(ROUTE, download, methods=["GET"])], lifespan=serving)

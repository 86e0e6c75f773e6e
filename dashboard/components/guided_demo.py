"""The Playground's guided demo panel: the script's steps, the next message to send with one click, and what to
point out to the audience; the correction step waits until the operator applies the agent's proposed edit."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import context
from dashboard.services import demo_script
from dashboard.services.playground import Outcome, Turn
from dashboard.text import escape_markdown

STATE = "playground_demo"
SCRIPTED = "playground_scripted"  # the message a step's button sends on the next run


def active(store: str) -> dict[str, Any] | None:
    """The running demo of ``store`` (its user and next step), or None."""
    demo = st.session_state.get(STATE)
    return demo if demo and demo["store"] == store else None


def scripted_message() -> str | None:
    """The message a step's button asked to send (once)."""
    return st.session_state.pop(SCRIPTED, None)


def panel(store: str, turns: list[Turn]) -> None:
    """Start button, or the running script with its next step."""
    demo = active(store)
    with st.container(border=True):
        if demo is None:
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.markdown("**Guided demo**: remember → recall → correct → the agent's answer changes, in four "
                          "clicks, as a new user.")
            right.button("Start", key="playground_demo_start", type="primary", icon=":material/play_arrow:",
                         on_click=_start, args=(store,))
            return
        _steps(demo, turns)


def _steps(demo: dict[str, Any], turns: list[Turn]) -> None:
    number = demo["step"]
    done = number >= len(demo_script.STEPS)
    st.markdown(" → ".join(f"**{s.title}**" if i == number else s.title
                           for i, s in enumerate(demo_script.STEPS)) + f" · as user `{demo['user']}`")
    if number > 0:
        st.caption(demo_script.STEPS[number - 1].point)
    waiting = number > 0 and demo_script.STEPS[number - 1].needs_update and not _updated(turns)
    left, right = st.columns([4, 1], vertical_alignment="center")
    if done:
        left.success("That is the whole demo. Start again with a new user, or keep chatting.")
    elif waiting:
        left.warning("Apply the agent's proposal first: **Update the old memory** in the last turn's trace.")
    else:
        step = demo_script.STEPS[number]
        left.markdown(f"Next, {escape_markdown(demo['user'])} says: “{escape_markdown(step.message)}”")
        right.button(f"Send ({number + 1}/{len(demo_script.STEPS)})", key="playground_demo_next", type="primary",
                     icon=":material/send:", on_click=_send, args=(demo, step.message))
    st.button("End the demo", key="playground_demo_end", on_click=lambda: st.session_state.pop(STATE, None))


def _updated(turns: list[Turn]) -> bool:
    """The last turn's proposed edit was applied (or it had none to apply: nothing to wait for)."""
    proposed = [c for c in turns[-1].contradictions if c.proposed] if turns else []
    return not proposed or any(c.outcome is Outcome.UPDATED for c in proposed)


def _start(store: str) -> None:
    user = demo_script.demo_user(context.hub(), store)
    st.session_state[STATE] = {"store": store, "user": user, "step": 0}
    st.session_state["playground_user_typed"] = user


def _send(demo: dict[str, Any], message: str) -> None:
    st.session_state[SCRIPTED] = message
    st.session_state["playground_user_typed"] = demo["user"]
    demo["step"] += 1

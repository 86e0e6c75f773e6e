"""Retrieval evaluation: run a golden file against the store, recall@k per user, and recall over time."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.components import page
from dashboard.services import insights
from dashboard.text import escape_markdown
from memory_core.evaluation import EvalReport, load_golden

_REPORT = "eval_report"


def _golden() -> tuple[str, list] | None:
    """The golden queries chosen (an upload wins over a path), or ``None`` until one is given."""
    upload = st.file_uploader("Golden file", type=["yml", "yaml", "jsonl", "json"], key="eval_upload",
                              help="YAML / JSONL golden queries, or a LoCoMo JSON file")
    path = st.text_input("…or a path on the server", key="eval_path")
    if upload is not None:
        return upload.name, insights.golden_from(upload.name, upload.getvalue())
    if path.strip():
        return path.strip(), load_golden(path.strip())
    return None


def _report(report: EvalReport) -> None:
    st.metric("Overall recall@k", f"{report.overall:.3f}", help=f"{len(report.queries)} queries")
    frame = pd.DataFrame({"user": list(report.per_user), "recall": list(report.per_user.values())})
    chart = alt.Chart(frame).mark_bar().encode(x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1])),
                                               y=alt.Y("user:N", sort="x"), tooltip=["user", "recall"])
    st.altair_chart(chart, width="stretch")
    rows = [{"user": r.query.user_id, "query": r.query.query, "k": r.query.k, "recall": r.recall,
             "missing": "; ".join(e.model_dump_json(exclude_none=True) for e in r.missing)} for r in report.queries]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="eval_queries")


def _history(store: str) -> None:
    st.subheader("Recall over time")
    rows = insights.eval_history(context.hub(), store)
    if not rows:
        st.caption("No run recorded for this store yet.")
        return
    frame = pd.DataFrame([{"at": pd.Timestamp(r["at"]), "recall": r["overall"], "golden": r.get("golden", "")}
                          for r in rows])
    chart = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("at:T", title="run"), y=alt.Y("recall:Q", scale=alt.Scale(domain=[0, 1])), color="golden:N",
        tooltip=["at:T", "recall", "golden"])
    st.altair_chart(chart, width="stretch")


st.title("Retrieval evaluation")
store = page.store_or_stop()
st.caption("Golden queries: `query`, `user_id`, `expect` (memory ids or texts that must come back), `k`. "
           "See docs/insight.md.")
with page.reported():
    chosen = _golden()
    if chosen and st.button("Run", type="primary", key="eval_run"):
        name, queries = chosen
        st.session_state[_REPORT] = insights.run_eval(context.hub(), store, queries, name)
    report = st.session_state.get(_REPORT)
    if isinstance(report, EvalReport) and report.store == store:
        st.caption(f"Results of {escape_markdown(report.golden)}")
        _report(report)
    _history(store)

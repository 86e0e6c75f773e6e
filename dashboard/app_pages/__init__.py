"""The dashboard's pages: Streamlit scripts that read the session (``dashboard.context``), draw with
``dashboard.components`` and do everything through ``dashboard.services``."""

"""memdash's Streamlit dashboard: pages over :mod:`dashboard.services`, which talk to the same editors agents use."""

"""RNN Studio: the router. Page config, the workspace (restored from the URL, saved after every run),
navigation over pages/."""

from pathlib import Path

import streamlit as st

from pages import common

# a local icon file: a :material/...: page icon makes the browser fetch the favicon from fonts.gstatic.com
st.set_page_config(page_title="RNN Studio", page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
                   layout="wide")
common.init_workspace()
common.keep_warm()

pages = [
    st.Page("pages/data.py", title="Data", icon=":material/table_chart:", default=True),
    st.Page("pages/design.py", title="Design", icon=":material/account_tree:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/export.py", title="Export & predict", icon=":material/deployed_code:"),
]
st.sidebar.caption("RNN Studio — build, train and ship recurrent networks for time series.")
common.workspace_sidebar()
try:
    st.navigation(pages).run()
finally:  # also after st.stop() / st.rerun() inside a page
    common.persist_workspace()

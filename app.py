"""RNN Studio: the router. Page config, session defaults (set once), navigation over pages/."""

import streamlit as st

from builder.app import session_defaults

st.set_page_config(page_title="RNN Studio", page_icon=":material/cycle:", layout="wide")

for key, value in session_defaults().items():
    if key not in st.session_state:
        st.session_state[key] = value

pages = [
    st.Page("pages/data.py", title="Data", icon=":material/table_chart:", default=True),
    st.Page("pages/design.py", title="Design", icon=":material/account_tree:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/export.py", title="Export & predict", icon=":material/deployed_code:"),
]
st.sidebar.caption("RNN Studio — build, train and ship recurrent networks for time series.")
st.navigation(pages).run()

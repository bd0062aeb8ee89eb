"""Placeholder until the dashboard lands: shows that the engine runs on digits."""

import streamlit as st

st.title("Active-learning strategy comparison bench")
st.write("The dashboard is being built. Meanwhile: `python -m core run --help`.")

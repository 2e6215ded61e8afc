"""The project's tests, by kind: unit/ (functions and models), app/ (pages through Streamlit's AppTest),
browser/ (the running app in Debian's Chromium). Helpers shared by all live here: invariants,
apptest, tiny_hf. Import them as `from tests.<module> import ...`."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]     # the project's root: app.py, README.md, assets/

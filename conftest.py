"""Test-wide settings: nothing may reach for the network."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
# Every figure a test draws goes through plotly's validation (the app skips it: viz/figure.py).
os.environ.setdefault("ATTENTION_EXPLORER_VALIDATE_FIGURES", "1")

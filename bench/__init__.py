"""`python -m bench`: the project's latency figures, printed side by side."""

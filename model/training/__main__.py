"""`python -m model.training NAME`: train a built-in model (see train.py)."""
from .train import main

main()

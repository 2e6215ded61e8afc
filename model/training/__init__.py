"""Training the built-in models: `python -m model.training NAME` (train.py), their tasks and
corpus (tasks.py, corpus.py), held-out evaluation (evaluate.py) and the README's metrics table
(readme.py). Nothing here runs in the app."""

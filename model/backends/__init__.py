"""Backends: the built-in character models and Hugging Face models, behind one Protocol."""

from ..builtin import load_builtin, BuiltinModel  # noqa: F401  (temporary, during the runner refactor)

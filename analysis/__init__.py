"""Measures over attention records, in numpy only (no streamlit, plotly or torch): what the
Aggregates page shows and what tests compare against other implementations.

    mean_over_heads(record)             [q, k]      heads.py
    per_head_grid(records, measure)     [layer, head]
    real_queries(record)                [q] bool    query rows that attend to something
    head_entropy(record)                [head]      entropy.py: bits, mean over real query rows
    mean_attention_distance(record)     [head]      distance.py: tokens, mean over real query rows
    rollout(records)                    [pos, pos]  rollout.py: Abnar & Zuidema (2020)
    kept_positions(flags, n)            [kept]      positions not flagged (special tokens)
    restrict(matrix, rows, cols)        [rows, cols]

Every function's docstring says what it was computed over: which rows, which keys, which layers.
"""
from .distance import mean_attention_distance
from .entropy import head_entropy
from .heads import mean_over_heads, per_head_grid, real_queries
from .rollout import kept_positions, restrict, rollout

__all__ = ["head_entropy", "kept_positions", "mean_attention_distance", "mean_over_heads", "per_head_grid",
           "real_queries", "restrict", "rollout"]

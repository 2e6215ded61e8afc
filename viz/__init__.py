"""Pure figure functions: AttentionRecord(s) -> plotly Figure (numpy + plotly only)."""
from .heatmap import head_heatmap
from .overview import overview_image, overview_rgb
from .stages import STAGE_TITLES, STAGES, head_matrix, head_name, stage_values

__all__ = ["STAGES", "STAGE_TITLES", "head_heatmap", "head_matrix", "head_name", "overview_image",
           "overview_rgb", "stage_values"]

"""What a finished sweep says: report.json, the verdict and what caused the difference, seed noise, report.md,
the model card and the figures.

Reads the folder's records only: nothing here trains or imports Ray.
"""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "attribution_lines": "comparison",
    "left_out": "comparison",
    "nothing_delivered": "comparison",
    "verdict_lines": "comparison",
    "render_report_md": "document",
    "draw_plots": "figures",
    "table": "markdown",
    "render_card": "model_card",
    "build_report": "summary",
    "compare": "verdict",
}
__all__, __getattr__ = exports(__name__, _PUBLIC)

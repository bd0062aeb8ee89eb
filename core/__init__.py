"""Active-learning strategy comparison engine.

`core` never imports Streamlit: the dashboard, the CLI and the benchmarks all drive the
same runner and read the same on-disk cache.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"

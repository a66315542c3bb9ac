"""Reports: papermill runs of the notebooks, HTML exports, JSON summaries."""

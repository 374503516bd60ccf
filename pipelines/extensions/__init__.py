"""pipelines.extensions package."""

"""pipelines.downloadermiddlewares package."""

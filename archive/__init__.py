"""The archive as a library: WARC writing, storage backends, indexes. Imports nothing Scrapy."""

"""Clean article text and metadata from decoded HTML: trafilatura plus generic rules (no Scrapy).

The extractor itself is `extraction.extractor`; this package's root imports nothing, so the crawl
process, which only hands pages to worker processes, does not load trafilatura.
"""

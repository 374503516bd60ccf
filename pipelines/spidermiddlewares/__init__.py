"""Scrapy spider middlewares of the crawl."""

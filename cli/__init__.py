"""The `newsarchive` command line: parses arguments, builds settings, calls the packages."""

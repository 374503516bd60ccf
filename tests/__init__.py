"""newsarchive test suite."""

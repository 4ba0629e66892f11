"""The ``iomtshare`` command line: it parses, validates and calls the library; nothing more."""

"""The studio: writing, planning and approving in a browser, over the same Markdown files as
the command line (``blogtool studio``)."""

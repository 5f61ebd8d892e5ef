"""blogtool: a public organisation's blog, Thursday tips and weekly newsletter."""

__version__ = "0.1.0"

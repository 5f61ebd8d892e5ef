"""The readers' own web service: the WSGI application and the server that runs it."""

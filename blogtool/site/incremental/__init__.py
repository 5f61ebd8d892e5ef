"""Work left undone, in one place: each way blogtool knows that doing something again would
change nothing, and so skips it.

- ``snapshot``: every source as the file system describes it, without reading one (the
  build's and the run's fast ways out compare it with the last one's).
- ``fastway``: the build's fast way out (nothing changed, nothing came due: no post is read).
- ``quiet``: the scheduled run's (the sources, the rows the job acts on, the next due time).
- ``manifest``: the pages of the last build and their digests: only changed pages render.
- ``lookahead``: what the live and the spare release still hold of those pages, so a page
  deleted by hand is made again and an unchanged one is linked, not copied.

The caches that skip work inside a step are kept beside what they cache: the parse cache
with the content (``content/load.py``, each body's HTML with its item), pictures by content
(``pictures/variants.py``), compiled templates (``site/templates.py``).
"""

"""Pictures, in one place: where one named in content or config is and whether it can go out
(``sources``), the web's sizes of it made by Pillow and cached by content (``variants``), its
markup in pages, feeds and mail (``markup``), metadata stripped from those published as they
are (``metadata``), and what a picture uploaded in the studio must be (``uploads``).

It sits on the configuration alone: the content, the site, the newsletter and the studio use
it, and it knows a post or tip only as something with a path, a lead picture and links.
"""

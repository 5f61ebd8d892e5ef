"""Bringing an existing blog in: a WordPress export or any RSS/Atom feed, as posts and tips."""

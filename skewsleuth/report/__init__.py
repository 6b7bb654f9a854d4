"""Renderings of a verdict: terminal text, JSON (the scripting contract), Markdown, HTML (with
the clocks drawn) and PNG.

Every string that comes from the evidence is hostile: it is escaped for the medium it
is written to (rich markup, Markdown/HTML) and never interpreted.
"""

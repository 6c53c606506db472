"""Renderings of answers: text (Rich), JSON, HTML. They render steps; they never recompute."""

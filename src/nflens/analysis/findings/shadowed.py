ID = "shadowed"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

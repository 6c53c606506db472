ID = "direct_access"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

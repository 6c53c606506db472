ID = "unreachable"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

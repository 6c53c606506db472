ID = "egress"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

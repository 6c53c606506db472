ID = "persistence"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

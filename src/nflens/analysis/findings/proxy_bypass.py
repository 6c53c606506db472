ID = "proxy_bypass"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

ID = "ipv6_gap"
SEVERITY = "info"
TITLE = ""


def detect(ctx):
    return []

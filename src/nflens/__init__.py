"""nflens: what Docker and the Linux host firewall really do to a packet.

Raw host state -> IR (`nflens.ir`) -> pure kernel model (`nflens.kernel`) -> answers -> renderings.
"""

__version__ = "0.1.0"

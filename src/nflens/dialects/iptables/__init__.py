"""The iptables dialect: iptables-save / ip6tables-save in, iptables-restore input out."""

from .generate import generate
from .parser import parse

__all__ = ["parse", "generate"]

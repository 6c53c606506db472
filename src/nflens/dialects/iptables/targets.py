"""iptables targets -> IR Actions (iptables-extensions(8), TARGET EXTENSIONS)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from nflens.ir.rules import Action, opts

from .grammar import bounded_range, uint, value_mask

SIMPLE = {"ACCEPT": "accept", "DROP": "drop", "RETURN": "return", "NOTRACK": "notrack",
          "TRACE": "trace", "CHECKSUM": "checksum", "TCPMSS": "tcpmss"}
# target -> options it takes with their argument counts
TARGET_OPTS: dict[str, dict[str, int]] = {
    "REJECT": {"reject-with": 1},
    "DNAT": {"to-destination": 1, "random": 0, "persistent": 0},
    "SNAT": {"to-source": 1, "random": 0, "random-fully": 0, "persistent": 0},
    "MASQUERADE": {"to-ports": 1, "random": 0, "random-fully": 0},
    "REDIRECT": {"to-ports": 1, "random": 0},
    "LOG": {"log-level": 1, "log-prefix": 1, "log-tcp-sequence": 0, "log-tcp-options": 0,
            "log-ip-options": 0, "log-uid": 0, "log-macdecode": 0},
    "NFLOG": {"nflog-group": 1, "nflog-prefix": 1, "nflog-range": 1, "nflog-size": 1,
              "nflog-threshold": 1},
    "MARK": {"set-mark": 1, "set-xmark": 1, "and-mark": 1, "or-mark": 1, "xor-mark": 1},
    "CONNMARK": {"set-mark": 1, "set-xmark": 1, "save-mark": 0, "restore-mark": 0,
                 "nfmask": 1, "ctmask": 1, "mask": 1, "and-mark": 1, "or-mark": 1, "xor-mark": 1},
    "CT": {"notrack": 0, "helper": 1, "ctevents": 1, "expevents": 1, "zone": 1, "zone-orig": 1,
           "zone-reply": 1, "timeout": 1},
    "TCPMSS": {"set-mss": 1, "clamp-mss-to-pmtu": 0},
    "CHECKSUM": {"checksum-fill": 0},
    "NFQUEUE": {"queue-num": 1, "queue-balance": 1, "queue-bypass": 0, "fail-open": 0,
                "queue-cpu-fanout": 0},
    "NOTRACK": {}, "TRACE": {}, "ACCEPT": {}, "DROP": {}, "RETURN": {},
    # targets that only rewrite a field or keep state nothing in the model reads (CONTINUE)
    "TOS": {"set-tos": 1, "and-tos": 1, "or-tos": 1, "xor-tos": 1},
    "DSCP": {"set-dscp": 1, "set-dscp-class": 1},
    "TTL": {"ttl-set": 1, "ttl-dec": 1, "ttl-inc": 1},
    "HL": {"hl-set": 1, "hl-dec": 1, "hl-inc": 1},
    "CLASSIFY": {"set-class": 1},
    "ECN": {"ecn-tcp-remove": 0, "ecn-tcp-cwr": 1, "ecn-tcp-ece": 1, "ecn-ip-ect": 1},
    "TCPOPTSTRIP": {"strip-options": 1},
    "CONNSECMARK": {"save": 0, "restore": 0},
    "SECMARK": {"selctx": 1},
    "AUDIT": {"type": 1},
    "IDLETIMER": {"timeout": 1, "label": 1, "alarm": 0},
    "RATEEST": {"rateest-name": 1, "rateest-interval": 1, "rateest-ewmalog": 1},
    "LED": {"led-trigger-id": 1, "led-delay": 1, "led-always-blink": 0},
    # targets whose consequences for the verdict or the packet the model does not cover
    "TEE": {"gateway": 1, "oif": 1},
    "SYNPROXY": {"mss": 1, "wscale": 1, "sack-perm": 0, "timestamp": 0, "ecn": 0},
    "TPROXY": {"on-port": 1, "on-ip": 1, "tproxy-mark": 1},
    "NETMAP": {"to": 1},
    "SNPT": {"src-pfx": 1, "dst-pfx": 1},
    "DNPT": {"src-pfx": 1, "dst-pfx": 1},
    "HMARK": {**{f"hmark-{o}": 1 for o in (
        "tuple", "mod", "offset", "src-prefix", "dst-prefix", "sport-mask", "dport-mask",
        "spi-mask", "proto-mask", "rnd", "sport", "dport", "spi")}, "hmark-ct": 0},
    "SET": {"add-set": 2, "del-set": 2, "map-set": 2, "exist": 0, "timeout": 1, "map-mark": 0,
            "map-prio": 0, "map-queue": 0},
}
# Targets that return XT_CONTINUE and change only what no match or decision of the model reads
# (net/netfilter/xt_DSCP.c, xt_TCPOPTSTRIP.c, xt_CLASSIFY.c, xt_HL.c, xt_CONNSECMARK.c,
# xt_AUDIT.c, xt_IDLETIMER.c, xt_RATEEST.c, xt_LED.c): the verdict continues with the next rule.
# AUDIT --type drop only labels the audit record (checked on the kernel: the packet went on).
CONTINUES = {
    "TOS": "rewrites the IPv4 TOS / IPv6 traffic class", "DSCP": "rewrites the DSCP field",
    "TTL": "rewrites the IPv4 TTL", "HL": "rewrites the IPv6 hop limit",
    "CLASSIFY": "sets the skb priority (a tc class)", "ECN": "rewrites ECN bits",
    "TCPOPTSTRIP": "strips TCP options", "CONNSECMARK": "copies the security mark",
    "SECMARK": "sets the security mark", "AUDIT": "writes an audit record",
    "IDLETIMER": "restarts an idle timer", "RATEEST": "feeds a rate estimator",
    "LED": "blinks an LED",
}
# Targets kept opaque and named: what they do changes the packet's fate or its addresses in a way
# the model does not follow, so a flow that reaches one is `uncertain` where it matters.
OPAQUE = {
    "TEE": "clones the packet to another gateway", "SYNPROXY": "answers SYNs itself",
    "NETMAP": "maps an address prefix (NAT)",
    "SNPT": "translates the IPv6 source prefix", "DNPT": "translates the IPv6 destination prefix",
    "HMARK": "sets the mark to a hash of the packet", "SET": "changes an ipset's contents",
}


def nat_to(spec: str) -> tuple[Any, Any]:
    """`172.17.0.2:80`, `[2001:db8::2]:80`, `a-b:p1-p2`, `:80` ->
    ((lo, hi) | None, (p1, p2) | None)."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        portspec = rest[1:] if rest.startswith(":") else ""
    elif spec.count(":") > 1:  # bare IPv6 address without port
        host, portspec = spec, ""
    else:
        host, _, portspec = spec.partition(":")
    addr = None
    if host:
        lo, _, hi = host.partition("-")
        addr = (ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo))
    return addr, to_ports(portspec) if portspec else None


def to_ports(text: str) -> tuple[int, int]:
    """`PORT[-PORT]` of --to-ports / --to-destination: numbers only (iptables refuses service
    names there) within 0..65535, low end first."""
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise ValueError(f"bad port range {text!r}")
    lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    if hi > 65535 or lo > hi:
        raise ValueError(f"bad port range {text!r}")
    return lo, hi


def build(name: str, args: dict[str, Any]) -> Action:
    """The Action for target `name` with its parsed options (raises ValueError when malformed)."""
    _required(name, args)
    if name in CONTINUES:
        return Action(name.lower(), opts(**{k.replace("-", "_"): v if v != "" else True
                                            for k, v in args.items()}))
    if name in SIMPLE and not args:
        return Action(SIMPLE[name])
    if name == "REJECT":
        return Action("reject", opts(**{"with": args.get("reject-with", "icmp-port-unreachable")}))
    if name in ("DNAT", "SNAT"):
        key = "to-destination" if name == "DNAT" else "to-source"
        addr, ports = nat_to(args[key])
        extra = {k.replace("-", "_"): True
                 for k in ("random", "random-fully", "persistent") if k in args}
        return Action(name.lower(), opts(addr=addr, port=ports, **extra))
    if name in ("MASQUERADE", "REDIRECT"):
        ports = to_ports(args["to-ports"]) if "to-ports" in args else None
        return Action(name.lower(), opts(port=ports))
    if name == "MARK":
        return Action("mark", opts(**_mark_ops(args)))
    if name == "TPROXY":
        return _tproxy(args)
    if name == "CONNMARK":
        return _connmark(args)
    if name == "CT":
        if "notrack" in args:
            return Action("ct", opts(notrack=True))
        return Action("ct", opts(**{k.replace("-", "_"): v for k, v in args.items()}))
    if name == "NFQUEUE":
        uint(args.get("queue-num", "0"), 65535, "queue number")
        if "queue-balance" in args:
            _balance(args["queue-balance"])
        return Action("queue", opts(num=args.get("queue-num", "0")))
    if name in ("LOG", "NFLOG", "TCPMSS", "CHECKSUM", "TRACE", "NOTRACK"):
        return Action(name.lower(), opts(**{k.replace("-", "_"): v for k, v in args.items()}))
    raise KeyError(name)


def _tproxy(args: dict[str, Any]) -> Action:
    """TPROXY --on-port P [--on-ip A] [--tproxy-mark V[/M]]: kernel/tproxy.py; `terminal`
    because the target accepts or drops (xt_TPROXY.c), unlike nft's tproxy statement."""
    port = uint(args["on-port"], 65535, "--on-port") if "on-port" in args else None
    extra: dict[str, Any] = {}
    if "tproxy-mark" in args:
        value, mask = value_mask(args["tproxy-mark"])
        extra = {"mark": value, "mask": mask}
    addr = args.get("on-ip")
    return Action("tproxy", opts(addr=str(ipaddress.ip_address(addr)) if addr else None,
                                 port=port, terminal=True, **extra))


# target -> (options of which one is needed, options with their largest value)
_NEEDS = {"DNAT": ("to-destination",), "SNAT": ("to-source",), "CHECKSUM": ("checksum-fill",),
          "TCPMSS": ("set-mss", "clamp-mss-to-pmtu"), "TPROXY": ("on-port",)}
_LIMITS = {("NFLOG", "nflog-group"): 65535, ("NFLOG", "nflog-threshold"): 65535,
           ("NFLOG", "nflog-range"): 0xFFFFFFFF, ("NFLOG", "nflog-size"): 0xFFFFFFFF,
           ("CT", "zone"): 65535, ("CT", "zone-orig"): 65535, ("CT", "zone-reply"): 65535,
           ("TCPMSS", "set-mss"): 65535}


def _required(name: str, args: dict[str, Any]) -> None:
    """What iptables refuses although every word parses (its targets' x6_fcheck and option
    ranges): `-j DNAT` without an address, `--nflog-group 65536`, `--zone -1`."""
    need = _NEEDS.get(name)
    if need and not set(need) & set(args):
        raise ValueError(f"{name} needs --{' or --'.join(need)}")
    for (target, opt), hi in _LIMITS.items():
        if target == name and opt in args:
            uint(args[opt], hi, f"--{opt}")


def _balance(text: str) -> tuple[int, int]:
    """--queue-balance LO:HI, LO < HI <= 65534 (libxt_NFQUEUE.c; `4`, `4:4`, `0:65535` fail)."""
    if ":" not in text:
        raise ValueError(f"--queue-balance {text}: needs LOW:HIGH")
    lo, hi = bounded_range(65534)(text)
    if lo >= hi:
        raise ValueError(f"--queue-balance {text}: the low end must be below the high end")
    return lo, hi


def _mark_ops(args: dict[str, Any]) -> dict[str, int]:
    """MARK semantics as (value, mask): new = (old & ~mask) ^ value (xt_MARK.c)."""
    if "set-xmark" in args:
        v, m = value_mask(args["set-xmark"])
        return {"value": v, "mask": m}
    if "set-mark" in args:  # libxt_MARK: --set-mark v/m is --set-xmark v/(m|v)
        v, m = value_mask(args["set-mark"])
        return {"value": v, "mask": m | v}
    if "and-mark" in args:
        v = int(args["and-mark"], 0)
        return {"value": 0, "mask": ~v & 0xFFFFFFFF}
    if "or-mark" in args:
        v = int(args["or-mark"], 0)
        return {"value": v, "mask": v}
    if "xor-mark" in args:
        return {"value": int(args["xor-mark"], 0), "mask": 0}
    raise ValueError("MARK needs --set-mark, --set-xmark, --and-mark, --or-mark or --xor-mark")


def _connmark(args: dict[str, Any]) -> Action:
    if "save-mark" in args:
        nf = int(args.get("nfmask", args.get("mask", "0xffffffff")), 0)
        ct = int(args.get("ctmask", args.get("mask", "0xffffffff")), 0)
        return Action("connmark", opts(mode="save", nfmask=nf, ctmask=ct))
    if "restore-mark" in args:
        nf = int(args.get("nfmask", args.get("mask", "0xffffffff")), 0)
        ct = int(args.get("ctmask", args.get("mask", "0xffffffff")), 0)
        return Action("connmark", opts(mode="restore", nfmask=nf, ctmask=ct))
    return Action("connmark", opts(mode="set", **_mark_ops(args)))

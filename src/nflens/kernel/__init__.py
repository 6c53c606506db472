"""The pure packet-path model: hooks, chains, matches, targets, conntrack, NAT, routing, bridges.

No I/O, no clock, no randomness: `simulate(host, flow)` is a pure function of its inputs.
"""

"""Sets of packets over the address fields, and the service matrix built on them.

Representation, and why: the questions asked here (which sources may reach which destinations
for one service) vary two fields, source and destination address, with everything else fixed.
A set of (src, dst) pairs is kept as a partition of each axis into *atoms* — the intervals
between consecutive constants of the ruleset — and, per source atom, a bit mask of the
destination atoms it pairs with (Python ints as bit sets). Every rule's address condition is a
union of intervals whose ends are among those constants, so it is exactly a set of atoms; rule
walking is then bitwise and/or on ints. This is exact (no sampling), needs no BDD package, and
costs rules x source-atoms integer operations: seconds for the 5,000-rule TUM dumps where fffuu
took minutes. Region (kernel/region.py, beside MatchResult) is the symbolic side of one match;
matrix.py walks chains.
"""

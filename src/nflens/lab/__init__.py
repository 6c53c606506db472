"""The lab: real kernels and a real dockerd in network namespaces, the simulator's ground truth.

- `netns`: namespaces, veth pairs and a registry that tears everything down (also after SIGKILL,
  via `cleanup_stale`); nothing touches the root namespace.
- `dockerd`: a private dockerd (own exec-root, data-root, containerd, cgroup parent) in a
  namespace, with a busybox image made by `docker import`.
- `topology`: host between a LAN client (10.99.0.0/24) and a WAN client (198.51.100.0/24).
- `probes`: real TCP connections; "allow" = connected and a server's token came back.
- `scenarios`: one module per story, with broken / half-fixed / fixed variants.
- `run`: build, probe twice, snapshot (CONTRACT §2), flows.json + expected.json, compare.
"""

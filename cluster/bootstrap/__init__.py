"""Bringing a cluster up and down on Ray: the composition root, the one package that imports every component.

lifecycle.py    the steps of `up`, `down`, `join`, `leave` (the CLI prints them: cluster/cli/lifecycle.py)
placement.py    where each component goes and with which settings (the plan); the store's layout
settings.py     one typed settings dataclass per component, and ComponentSpec (name, host, settings)
credentials.py  the token file: one token per identity, made once
actors.py       the actors in Ray: connect as a driver, ensure each planned actor, stop them all
host.py         ComponentHost, the actor every component runs in, and its supervision policy
components.py   each component as one `run(ready)` coroutine, built from its settings
discovery.py    how hosts and components find each other through Ray
ray_node.py     the local Ray node `up` or `join` starts, owned by PID and session
"""

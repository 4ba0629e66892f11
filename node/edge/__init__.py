"""The edge role: a light node that follows the chain by its headers and never votes.

:mod:`node.edge.protocol` is the header protocol consensus nodes serve; :mod:`node.edge.follower`
asks for headers and keeps those whose commit QCs check out; :mod:`node.edge.service` runs an edge
(identity, p2p host, follower, HTTP API). See docs/edges.md.
"""

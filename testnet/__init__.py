"""Local networks on loopback: :mod:`testnet.layout` writes them (keys, genesis, node homes,
``network.json``), :mod:`testnet.launcher` runs them as node processes. Used by
``iomtshare testnet`` and by ``iomtshare bench e2e``."""

"""The node service: trio, libp2p, the HTTP API and the wiring of consensus to the ledger."""

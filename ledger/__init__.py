"""LevelDB ledgers: blocks, records, the attribute-change chain and the sharing-audit chain.

Public API (what the node, consensus wiring and explorer use):

* :class:`ledger.ledger.Ledger`: ``Ledger.open(path, genesis)`` (verifies on open),
  ``build_block(...)``, ``validate(block)``, ``apply(block, commit_qc)`` (reuses the outcome of
  validating or building the same block on the same head; ``recheck=True`` re-executes),
  ``head()``, ``verify(workers=1)`` and the queries of :class:`ledger.queries.LedgerQueries`.
  ``iomtshare ledger verify`` (cli/ledger_cmd.py) runs the same verification offline.
* :class:`ledger.genesis.Genesis` / :class:`ledger.genesis.NodeInfo`: chain identity and
  parameters, canonical bytes and ``genesis.json`` (``save``/``load``).
* :func:`ledger.qc.commit_vote_payload`: the bytes a node signs to commit a block (hand the same
  function to consensus); :class:`ledger.qc.CommitQC`. :func:`ledger.qc.access_vote_payload`:
  the bytes a node signs to approve or deny an access request (votes inside a
  :class:`ledger.block.SharingResult`).
* Transactions in :mod:`ledger.transactions`; blocks and sharing results in :mod:`ledger.block`;
  stored records in :mod:`ledger.records`; typed errors in :mod:`ledger.errors`.
* :mod:`ledger.kv` (interface, memory backend) and :mod:`ledger.leveldb` (plyvel backend);
  every key is built in :mod:`ledger.schema`.
* :class:`ledger.testing.ChainFixture`: reproducible keys and blocks for tests and tools.
"""

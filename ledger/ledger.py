"""The ledger a node keeps: open it, build and apply blocks, verify it, query it.

Typical use by the node::

    ledger = Ledger.open(data_dir / "ledger", genesis)      # verifies on open
    block = ledger.build_block(round=r, time_ms=now, proposer=i,
                               transactions=txs, results=results, last_commit=prev_qc)
    ...  # consensus collects a CommitQC over commit_vote_payload(chain, h, r, block.hash())
    ledger.apply(block, qc)                                  # validate, then one sync'd batch
    ledger.head(); ledger.records_by_owner(owner); ...       # see ledger.queries

``apply`` validates everything first (header, roots, carried and own commit QCs, every
transaction and sharing result, the state root) and then writes the block, its QC, the indexes,
the state changes, both sub-chains and the new head in ONE LevelDB write batch with ``sync=True``:
after a crash a block is either fully there or absent. A node validates a proposal
(``validate``) before voting for it; when that block commits, ``apply`` reuses the outcome of
those transaction checks (the header, roots and both QCs are checked again).

``open`` refuses a database made for another genesis (:class:`GenesisMismatch`) and, unless
told not to, re-verifies the stored chain and raises :class:`IntegrityError` rather than hand
out a tampered ledger.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from ledger import authority_state, schema
from ledger.block import Block, BlockHeader, ElectionQC, SharingResult, evidence_hash
from ledger.errors import GenesisMismatch, IntegrityError, InvalidBlock
from ledger.fragments import FragmentStore
from ledger.genesis import DomainKeys, Genesis
from ledger.header_check import check_header
from ledger.integrity import VerifyReport, read_head, verify_ledger
from ledger.kv import KeyValueStore
from ledger.merkle import merkle_root
from ledger.qc import CommitQC, verify_commit_qc
from ledger.queries import LedgerQueries
from ledger.records import ZERO_HASH, Head, Location, location_bytes
from ledger.transactions import Transaction
from ledger.transition import Execution, execute, genesis_head


class Ledger(LedgerQueries):
    """One chain's ledger over a :class:`~ledger.kv.KeyValueStore`."""

    def __init__(self, store: KeyValueStore, genesis: Genesis, head: Head) -> None:
        """Use :meth:`open` or :meth:`from_store`; this wraps an already checked store."""
        self.store = store
        self.genesis = genesis
        self._head = head
        # The encoded commit QC of the head, once this object has verified it itself (in
        # apply); the next block carries the same QC, usually byte for byte.
        self._verified_head_qc: bytes | None = None
        # (head hash, block hash, execution) of the last block validated or built here: a node
        # validates a proposal before voting and applies it once committed, and the second
        # run of every transaction check would find exactly what the first found.
        self._validated: tuple[bytes, bytes, Execution] | None = None

    @classmethod
    def open(cls, path: str | Path, genesis: Genesis, *, verify: bool = True) -> Ledger:
        """Open (creating if needed) the LevelDB ledger at ``path``.

        Raises :class:`~ledger.errors.StoreError`, :class:`GenesisMismatch` or
        :class:`IntegrityError`; the store is closed again when opening fails.
        """
        from ledger.leveldb import LevelDBStore

        return cls.from_store(LevelDBStore(path), genesis, verify=verify)

    @classmethod
    def from_store(cls, store: KeyValueStore, genesis: Genesis, *, verify: bool = True) -> Ledger:
        """Wrap ``store``: initialise an empty one, or check (and verify) an existing one."""
        try:
            stored = store.get(schema.GENESIS)
            if stored is None:
                if next(store.iterate(), None) is not None:
                    raise IntegrityError("genesis", "database has data but no genesis record")
                head = genesis_head(genesis)
                store.write(
                    {schema.GENESIS: genesis.to_bytes(), schema.HEAD: head.to_bytes()}, sync=True
                )
            elif stored != genesis.to_bytes():
                raise GenesisMismatch("the database was created for a different genesis")
            if verify:
                verify_ledger(store, genesis)
            head = read_head(store)
        except BaseException:
            store.close()
            raise
        return cls(store, genesis, head)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def fragments(self) -> FragmentStore:
        """This node's storage fragments, kept in the same database (not chain state)."""
        return FragmentStore(self.store)

    def head(self) -> Head:
        """The chain tip (height 0 and the genesis hash before the first block)."""
        return self._head

    @property
    def height(self) -> int:
        return self._head.height

    def committed_height(self) -> int:
        return self._head.height

    def domain_keys(self, epoch: int | None = None) -> DomainKeys | None:
        """The domain key of ``epoch`` (``None``: the current one), or ``None`` if this network
        deals none or not that epoch: the genesis epoch, then those rotations dealt on chain
        (:mod:`ledger.authority_state`)."""
        return authority_state.domain_keys(self.store, self.genesis, epoch)

    def verify(
        self,
        *,
        workers: int = 1,
        progress: Callable[[int], object] | None = None,
        snapshot: bool = False,
    ) -> VerifyReport:
        """Re-verify the whole stored chain; raises :class:`IntegrityError` at the first fault.

        See :func:`ledger.integrity.verify_ledger` for ``workers`` and ``progress``. With
        ``snapshot`` the chain is read from a snapshot taken now, so the call may run in
        another thread while blocks keep being applied here.
        """
        if not snapshot:
            return verify_ledger(self.store, self.genesis, workers=workers, progress=progress)
        view = self.store.snapshot()
        try:
            return verify_ledger(view, self.genesis, workers=workers, progress=progress)
        finally:
            view.close()

    def build_block(
        self,
        *,
        round: int,
        time_ms: int,
        proposer: int,
        transactions: Sequence[Transaction],
        results: Sequence[SharingResult] = (),
        last_commit: CommitQC | None,
        election_qc: ElectionQC | None = None,
    ) -> Block:
        """Assemble the next block with its roots and state root filled in.

        Raises :class:`InvalidBlock` / :class:`~ledger.errors.InvalidTransaction` if the block
        would not apply, so a proposer never proposes a block it would reject itself.
        """
        head = self._head
        tx_ids = [tx.tx_id() for tx in transactions]
        header = BlockHeader(
            chain_id=self.genesis.chain_id,
            height=head.height + 1,
            round=round,
            prev_hash=head.block_hash,
            tx_root=merkle_root(tx_ids),
            results_root=merkle_root([r.hash() for r in results]),
            evidence_hash=evidence_hash(last_commit, election_qc),
            state_root=ZERO_HASH,
            time_ms=time_ms,
            proposer=proposer,
        )
        block = Block(header, tuple(transactions), tuple(results), last_commit, election_qc)
        self._check(block, tx_ids)
        execution = execute(self.genesis, self.store, head, block, tx_ids)
        final = dataclasses.replace(
            block, header=dataclasses.replace(header, state_root=execution.state_root)
        )
        self._validated = (head.block_hash, final.hash(), execution)
        return final

    def validate(self, block: Block) -> None:
        """Check that ``block`` would apply on the current head (no QC needed, nothing written).

        Raises :class:`InvalidBlock` / :class:`~ledger.errors.InvalidTransaction`.
        """
        tx_ids = block.tx_ids()
        self._check(block, tx_ids)
        execution = execute(self.genesis, self.store, self._head, block, tx_ids)
        if execution.state_root != block.header.state_root:
            raise InvalidBlock(f"block {block.height}: state root does not match its effects")
        self._validated = (self._head.block_hash, block.hash(), execution)

    def _check(self, block: Block, tx_ids: Sequence[bytes]) -> None:
        """The header against the head, the body roots, and the election QC's shape."""
        check_header(
            self.genesis, self._head, block, tx_ids, verified_head_qc=self._verified_head_qc
        )
        if block.election_qc is not None:
            block.election_qc.check(self.genesis)

    def apply(self, block: Block, commit_qc: CommitQC, *, recheck: bool = False) -> Head:
        """Validate ``block`` and its ``commit_qc``, then commit it atomically and durably.

        The header, body roots and both commit QCs are always checked. The transactions and
        sharing results are executed again unless this ledger already validated (or built) a
        block with the same hash on the same head, whose outcome it reuses; ``recheck=True``
        executes them regardless. Returns the new head. Raises :class:`InvalidBlock` /
        :class:`~ledger.errors.InvalidTransaction` without writing anything.
        """
        head = self._head
        tx_ids = block.tx_ids()
        # The roots are checked here in any case: they bind this body to the block hash.
        self._check(block, tx_ids)
        block_hash = block.hash()
        verify_commit_qc(self.genesis, commit_qc, height=block.height, block_hash=block_hash)
        validated = self._validated
        if not recheck and validated is not None and validated[:2] == (head.block_hash, block_hash):
            execution = validated[2]
        else:
            execution = execute(self.genesis, self.store, head, block, tx_ids)
        if execution.state_root != block.header.state_root:
            raise InvalidBlock(f"block {block.height}: state root does not match its effects")
        height = block.height
        new_head = Head(
            height=height,
            block_hash=block_hash,
            state_root=execution.state_root,
            time_ms=block.header.time_ms,
            audit_length=execution.audit_length,
            audit_head=execution.audit_head,
        )
        ops = dict(execution.state_ops)
        encoded_qc = commit_qc.to_bytes()
        ops[schema.block(height)] = block.to_bytes()
        ops[schema.commit_qc(height)] = encoded_qc
        ops[schema.block_by_hash(block_hash)] = Location(height, 0).to_bytes()
        for position, tx_id in enumerate(tx_ids):
            ops[schema.tx(tx_id)] = location_bytes(height, position)
        ops[schema.HEAD] = new_head.to_bytes()
        self.store.write(ops, sync=True)
        self._head = new_head
        self._verified_head_qc = encoded_qc
        self._validated = None
        return new_head

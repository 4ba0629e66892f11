"""The chaos harness: real node processes under seeded faults and load, checked after healing.

``iomtshare testnet chaos --seed S --duration T`` (:mod:`cli.chaos_cmd`) runs
:func:`testnet.chaos.runner.run`. Modules: :mod:`~testnet.chaos.schedule` (the seeded fault
plan), :mod:`~testnet.chaos.faults` (processes and the data disk),
:mod:`~testnet.chaos.netns` (namespaces, nftables, the fallback to loopback),
:mod:`~testnet.chaos.events` (applying and healing one fault), :mod:`~testnet.chaos.load`
(the requesters), :mod:`~testnet.chaos.checks` (what must hold after the heal) and
:mod:`~testnet.chaos.report` (JSON and summary).
"""

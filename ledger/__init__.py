"""LevelDB ledgers: blocks, records, the attribute-change chain and the sharing-audit chain."""

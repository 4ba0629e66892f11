"""``python -m cli``: the ``iomtshare`` command without relying on the console script on PATH."""

from cli.main import main

main()

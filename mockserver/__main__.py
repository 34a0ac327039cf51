"""``python -m mockserver`` runs the ``videomock`` command line."""

from mockserver.cli import main

main()

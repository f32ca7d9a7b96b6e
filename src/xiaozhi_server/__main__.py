"""``python -m xiaozhi_server`` runs the CLI."""

from xiaozhi_server.cli import main

main()

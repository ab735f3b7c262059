"""``python -m qingshan.cli`` runs the ``qingshan`` command."""

from qingshan.cli import main

main()

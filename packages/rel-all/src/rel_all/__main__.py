"""``python -m rel_all`` is the ``rel`` command."""

from rel_all._cli import console_main

console_main()

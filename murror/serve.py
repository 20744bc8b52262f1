"""daphne on uvloop: `python -m murror.serve [daphne options] murror.asgi:application`.

The same daphne, with its event loop from uvloop: daphne creates its loop when daphne.server
is imported, before it loads the application, so the policy is set here, first.
docs/performance.md gives what it is worth.
"""

import uvloop

uvloop.install()

from daphne.cli import CommandLineInterface  # noqa: E402

if __name__ == "__main__":
    CommandLineInterface.entrypoint()

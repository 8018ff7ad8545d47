"""Errors a user can fix: the CLI prints them as one line with exit code 2, no traceback.

Library code raises these; it never imports the CLI.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix (a wrong path, a bad argument, a locked file)."""

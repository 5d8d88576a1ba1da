"""User-facing errors: printed as one line, never a traceback."""


class UserError(Exception):
  """A problem the user fixes (bad path, bad config value, ...).

  The experiment entry points print `error: <message>` on one line and exit with
  status 2. The message names what is wrong and what to do about it.
  """

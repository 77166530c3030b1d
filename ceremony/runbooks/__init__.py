"""Runbooks: the scripts of ceremonies, read by people and walked by the tool.

- :mod:`~ceremony.runbooks.format`: reading a runbook file, checked strictly
  (every problem named by file and line);
- :mod:`~ceremony.runbooks.spec`: the actions a step may name, as data;
- :mod:`~ceremony.runbooks.actions`: what each action does, through the Ceremony;
- :mod:`~ceremony.runbooks.engine`: walking a runbook step by step, recorded
  and resumable (the API the command line and the app drive);
- :mod:`~ceremony.runbooks.library`: the shipped runbooks and a project's own;
- :mod:`~ceremony.runbooks.render`: the printable runbook and the dry run;
- :mod:`~ceremony.runbooks.rehearse`: a runbook with scripted answers on SoftHSM.

The format is documented in docs/runbooks.md.
"""

"""`python -m triage` works like the `triage` command."""

from triage.apps.cli import main

raise SystemExit(main())

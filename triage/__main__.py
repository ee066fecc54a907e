"""`python -m triage` works like the `triage` command."""

from triage.cli import main

raise SystemExit(main())

"""Files on disk, safely: opened without waiting, written whole or not at all. May import the stdlib only."""

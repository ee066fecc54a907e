"""Files on disk, safely: opened without waiting, written whole or not at all. Imports the stdlib only."""

"""Front ends: command line, terminal, web. May import batch and below; terminal and web never each other."""

"""Front ends: command line, terminal, web. Import batch and below; terminal and web never each other."""

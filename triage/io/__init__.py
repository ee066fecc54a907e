"""Files in and out: the format registry, inputs, decoders, encoders. May import present, interop, below."""

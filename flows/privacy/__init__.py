"""Personal data: the register of processing, subject access and the right to erasure."""

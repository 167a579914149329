"""The stream list of a capture, from its index alone: numpy columns, its text and JSON."""

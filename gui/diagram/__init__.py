"""The two-lane diagram: its text, colours and geometry, the painter and the zoomable view."""

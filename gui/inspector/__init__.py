"""What holds at the playback cursor: the segment's details, both sides' windows, TIME_WAIT."""

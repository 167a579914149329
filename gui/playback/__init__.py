"""Playback of one Timeline: the cursor controller, the transport bar and the bottom panel."""

"""Where Timelines come from: captures loaded and replayed in workers, streams, scenarios."""

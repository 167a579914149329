"""Deterministic discrete-event simulation of two TCP endpoints over an impaired link."""

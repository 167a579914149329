"""Exporting diagrams: PNG pages rendered headless, the export dialog and the PNG writer."""

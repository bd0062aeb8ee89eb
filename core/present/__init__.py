"""Presentation shared by the dashboard and the command line: figures, verdict figures, the report."""

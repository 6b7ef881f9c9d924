"""The nginx gateway: its config template and the renderer (`python -m gateway.render`)."""

"""The command line: parse arguments, call the layers, render. Nothing else lives here."""

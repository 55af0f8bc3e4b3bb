from mapnet.cli import app

app()

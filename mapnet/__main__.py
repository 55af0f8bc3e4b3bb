from mapnet.ops.cli import app

app()

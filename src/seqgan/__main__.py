from seqgan.cli import run

run()

"""Kuramoto oscillators: CNN encoder, MLP decoder, type 0 = "no edge" (NRI paper, D.1).

    python examples/kuramoto.py            # quick run
    python examples/kuramoto.py --paper    # 50k systems, hidden 256, 500 epochs
"""
from _common import run

if __name__ == "__main__":
    run("kuramoto", __doc__.splitlines()[0], paper={})  # CNN, type 0 = no edge: the defaults

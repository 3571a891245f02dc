"""Charged particles: NRI with a CNN encoder and an MLP decoder (NRI paper, section 6.1).

    python examples/charged.py            # quick run
    python examples/charged.py --paper    # 50k systems, hidden 256, 500 epochs
"""
from _common import run

if __name__ == "__main__":
    run("charged", __doc__.splitlines()[0], paper={})  # the CNN encoder: the default

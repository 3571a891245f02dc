"""Springs: NRI with an MLP encoder and an MLP decoder (NRI paper, section 6.1).

    python examples/springs.py            # the demo's settings (minutes on a CPU)
    python examples/springs.py --paper    # 50k systems, hidden 256, 500 epochs
"""
from _common import QUICK, run

if __name__ == "__main__":
    # The demo: type 0 as "no edge" in the quick run; the paper's two free types with --paper.
    run("springs", __doc__.splitlines()[0], paper={}, quick=dict(QUICK, skip_first=True))

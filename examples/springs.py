"""Springs: NRI with an MLP encoder and an MLP decoder (NRI paper, section 6.1).

    python examples/springs.py            # the demo's settings (minutes on a CPU)
    python examples/springs.py --paper    # 50k systems, hidden 256, 500 epochs
"""
from _common import run

from torch_nri.training.demo import DEMO_SETTINGS

if __name__ == "__main__":
    quick = {k: v for k, v in DEMO_SETTINGS.items() if k not in ("system", "num_nodes")}
    run("springs", __doc__.splitlines()[0], paper={}, quick=quick)

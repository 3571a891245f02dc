"""Charged particles: NRI-MPM (Chen et al., 2021): relation interaction encoder,
spatio-temporal decoder and soft symmetry prior (lambda = 100).

    python examples/nri_mpm.py            # quick run
    python examples/nri_mpm.py --paper    # 50k systems, hidden 256, 500 epochs, lr 2.5e-5
"""
from _common import run

NRI_MPM = dict(encoder="ri", decoder="st", sequence_model="gru", symmetry_weight=100.0)

if __name__ == "__main__":
    run("charged", __doc__.splitlines()[0], paper=dict(NRI_MPM, lr=2.5e-5))

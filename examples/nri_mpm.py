"""NRI-MPM (Chen et al., 2021): relation interaction encoder, spatio-temporal
decoder and soft symmetry prior, with the paper's settings per system (the
defaults of its encoder and decoder: lambda = 100, on Kuramoto 1 for 5
objects and 1000 for 10, and attention in the Kuramoto decoder).

    python examples/nri_mpm.py                      # charged, quick run
    python examples/nri_mpm.py --system kuramoto    # lambda = 1, attention in the decoder
    python examples/nri_mpm.py --paper              # 50k systems, hidden 256, 500 epochs, lr 2.5e-5
"""
from _common import run

if __name__ == "__main__":
    run("charged", __doc__.splitlines()[0], paper=dict(encoder="ri", decoder="st", lr=2.5e-5),
        systems=("springs", "charged", "kuramoto"))

"""Charged particles: NRI with a CNN encoder and an MLP decoder (NRI paper, section 6.1).

    python examples/charged.py            # quick run
    python examples/charged.py --paper    # 50k systems, hidden 256, 500 epochs
"""
from _common import run

if __name__ == "__main__":
    run("charged", __doc__.splitlines()[0],
        quick=dict(num_train=5000, num_valid=500, num_test=500, encoder_hidden=64,
                   decoder_hidden=64, epochs=40, lr=1e-3),
        paper=dict(encoder="cnn"))

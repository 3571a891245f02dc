"""Kuramoto oscillators: CNN encoder, MLP decoder, edge type 0 hard-coded as
"no edge" (NRI paper, section 6.1 and supplement D.1).

    python examples/kuramoto.py            # quick run
    python examples/kuramoto.py --paper    # 50k systems, hidden 256, 500 epochs
"""
from _common import run

if __name__ == "__main__":
    run("kuramoto", __doc__.splitlines()[0],
        quick=dict(num_train=5000, num_valid=500, num_test=500, encoder_hidden=64,
                   decoder_hidden=64, epochs=40, lr=1e-3),
        paper=dict(encoder="cnn", skip_first=True))

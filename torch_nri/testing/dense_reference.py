r"""The dense formulation of NRI (Kipf et al., 2018, supplement C.1), written
independently of the package's message passing, for equivalence tests and as
the reference of the benchmarks.

Inputs are laid out as in the original code: a batch of :math:`B` systems
that share one graph, ``x`` of shape ``[B, N, ...]``. Node-to-edge and
edge-to-node multiply by one-hot ``[E, N]`` receiver and sender matrices
(broadcast over the batch), the per-type message MLPs run in a Python loop
over types, and the MLP decoder re-assembles its rollout as the original code
did. The functions read the weights of the package's modules, so both
compute with identical parameters; memory grows as :math:`O(E N)` for the
one-hot matrices and as :math:`O(B E T H)` for the decoder's activations.
"""
import torch
import torch.nn.functional as F


def one_hot_matrices(edge_index, num_nodes):
    """The receiver and sender matrices ``rel_rec``, ``rel_send`` ``[E, N]``."""
    rel_send = F.one_hot(edge_index[0], num_nodes).float()
    rel_rec = F.one_hot(edge_index[1], num_nodes).float()
    return rel_rec, rel_send


def node2edge(x, rel_rec, rel_send):
    """``[B, N, *, F] -> [B, E, *, 2F]``."""
    batch, shape = x.size(0), x.shape[2:]
    flat = x.reshape(batch, x.size(1), -1)
    senders = (rel_send @ flat).view(batch, -1, *shape)
    receivers = (rel_rec @ flat).view(batch, -1, *shape)
    return torch.cat([senders, receivers], dim=-1)


def edge2node(e, rel_rec):
    """``[B, E, *] -> [B, N, *]`` (sum over incoming edges)."""
    batch, shape = e.size(0), e.shape[2:]
    return (rel_rec.t() @ e.reshape(batch, e.size(1), -1)).view(batch, -1, *shape)


def mlp_encoder(enc, x, edge_index):
    """Edge logits ``[B, E, K]`` of ``x`` ``[B, N, T, F]``."""
    rel_rec, rel_send = one_hot_matrices(edge_index, x.size(1))
    h = enc.node_mlp1(x.reshape(x.size(0), x.size(1), -1))
    h = enc.edge_mlp1(node2edge(h, rel_rec, rel_send))
    skip = h
    if enc.factor:
        h = enc.node_mlp2(edge2node(h, rel_rec))
        h = torch.cat([node2edge(h, rel_rec, rel_send), skip], dim=-1)
    else:
        h = torch.cat([enc.edge_mlp_nofactor(h), skip], dim=-1)
    return enc.lin_out(enc.edge_mlp2(h))


def cnn_encoder(enc, x, edge_index):
    """Edge logits ``[B, E, K]`` of ``x`` ``[B, N, T, F]``."""
    rel_rec, rel_send = one_hot_matrices(edge_index, x.size(1))
    series = node2edge(x, rel_rec, rel_send)  # [B, E, T, 2F]
    h = enc.cnn(series.flatten(0, 1).transpose(1, 2))  # the CNN reads [B * E, 2F, T]
    h = enc.edge_mlp1(h.view(*series.shape[:2], -1))
    if not enc.factor:
        return enc.lin_out(h)
    skip = h
    h = enc.node_mlp(edge2node(h, rel_rec))
    h = torch.cat([node2edge(h, rel_rec, rel_send), skip], dim=-1)
    return enc.lin_out(enc.edge_mlp2(h))


def typed_messages(mlp, pre_msg, edge_weights):
    """The original code's message loop: one MLP per type, each message
    weighted by its type and added to a buffer of zeros."""
    start = int(mlp.skip_first)
    out = pre_msg.new_zeros(*pre_msg.shape[:-1], mlp.out_channels)
    for k in range(start, mlp.num_edge_types):
        p = k - start  # parameters exist only for message-passing types
        msg = mlp.act(pre_msg @ mlp.weight1[p].t() + mlp.bias1[p])
        msg = mlp.act(msg @ mlp.weight2[p].t() + mlp.bias2[p])
        # edge_weights [B, E, K] against messages [B, E, *, H]
        w = edge_weights[..., k].view(*edge_weights.shape[:-1], *([1] * (msg.dim() - 2)))
        out = out + msg * w
    return out / mlp.num_message_types if mlp.average_types else out


def output_mlp(dec, h):
    """The decoders' 3-layer ReLU output MLP (no dropout: evaluation mode)."""
    first, second, last = dec.head.mlp.lins
    return last(F.relu(second(F.relu(first(h)))))


def mlp_decoder_step(dec, x, rel_rec, rel_send, edge_weights):
    """One step of the MLP decoder on states ``[B, N, *, F]``."""
    msgs = typed_messages(dec.edge_mlp, node2edge(x, rel_rec, rel_send), edge_weights)
    h = torch.cat([x, edge2node(msgs, rel_rec)], dim=-1)
    return x + output_mlp(dec, h)


def mlp_decoder(dec, x, edge_index, edge_weights, prediction_steps):
    """Predictions ``[B, N, T - 1, F]`` of ``x`` ``[B, N, T, F]`` given
    ``edge_weights`` ``[B, E, K]``."""
    rel_rec, rel_send = one_hot_matrices(edge_index, x.size(1))
    num_steps = x.size(2)
    last = x[:, :, 0::prediction_steps]
    preds = []
    for _ in range(prediction_steps):
        last = mlp_decoder_step(dec, last, rel_rec, rel_send, edge_weights)
        preds.append(last)
    out = x.new_zeros(*x.shape[:2], preds[0].size(2) * prediction_steps, x.size(3))
    for i, p in enumerate(preds):
        out[:, :, i::prediction_steps] = p
    return out[:, :, :num_steps - 1]


def rnn_decoder(dec, x, edge_index, edge_weights, burn_in_steps):
    """Predictions ``[B, N, T - 1, F]`` of ``x`` ``[B, N, T, F]`` given
    ``edge_weights`` ``[B, E, K]``."""
    rel_rec, rel_send = one_hot_matrices(edge_index, x.size(1))
    H = dec.hidden_channels
    w_in, b_in = dec.lin_input.weight, dec.lin_input.bias
    w_msg = dec.lin_message.weight
    hidden = x.new_zeros(*x.shape[:2], H)
    preds = []
    for t in range(x.size(2) - 1):
        ins = x[:, :, t] if t < burn_in_steps else preds[-1]
        msgs = typed_messages(dec.edge_mlp, node2edge(hidden, rel_rec, rel_send), edge_weights)
        agg = edge2node(msgs, rel_rec)
        gates = [ins @ w_in[g * H:(g + 1) * H].t() + b_in[g * H:(g + 1) * H] for g in range(3)]
        msg_gates = [agg @ w_msg[g * H:(g + 1) * H].t() for g in range(3)]
        r = torch.sigmoid(gates[0] + msg_gates[0])
        i = torch.sigmoid(gates[1] + msg_gates[1])
        n = torch.tanh(gates[2] + r * msg_gates[2])
        hidden = (1 - i) * n + i * hidden
        preds.append(ins + output_mlp(dec, hidden))
    return torch.stack(preds, dim=2)

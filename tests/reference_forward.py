"""An independent forward pass for the reference's generator layouts, written with functional ops
straight from the documented state-dict layout, to check our modules against."""

import torch
import torch.nn.functional as F


def _norm(sd, key, x, norm):
    if norm == "instance":
        return F.instance_norm(x, eps=1e-5)
    if norm == "batch":  # the reference's test-time behaviour: train-mode BN, batch of one
        return F.batch_norm(x, None, None, sd[f"{key}.weight"], sd[f"{key}.bias"], True, 0.0, 1e-5)
    return x


def resnet_forward(sd, x, n_blocks, norm):
    def conv(key, x, **kw):
        return F.conv2d(x, sd[f"{key}.weight"], sd.get(f"{key}.bias"), **kw)

    def up(key, x):
        w, b = sd[f"{key}.weight"], sd.get(f"{key}.bias")
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)

    y = conv("model.1", F.pad(x, (3,) * 4, mode="reflect"))
    y = F.relu(_norm(sd, "model.2", y, norm))
    y = F.relu(_norm(sd, "model.5", conv("model.4", y, stride=2, padding=1), norm))
    y = F.relu(_norm(sd, "model.8", conv("model.7", y, stride=2, padding=1), norm))
    for i in range(10, 10 + n_blocks):
        p = f"model.{i}.conv_block"
        second = 6 if f"{p}.6.weight" in sd and sd[f"{p}.6.weight"].dim() == 4 else 5
        h = conv(f"{p}.1", F.pad(y, (1,) * 4, mode="reflect"))
        h = F.relu(_norm(sd, f"{p}.2", h, norm))
        h = conv(f"{p}.{second}", F.pad(h, (1,) * 4, mode="reflect"))
        y = y + _norm(sd, f"{p}.{second + 1}", h, norm)
    n = 10 + n_blocks
    y = F.relu(_norm(sd, f"model.{n + 1}", up(f"model.{n}", y), norm))
    y = F.relu(_norm(sd, f"model.{n + 4}", up(f"model.{n + 3}", y), norm))
    y = conv(f"model.{n + 7}", F.pad(y, (3,) * 4, mode="reflect"))
    return torch.tanh(y)


def unet_forward(sd, x, num_downs, norm):
    def down(key, x):
        return F.conv2d(x, sd[f"{key}.weight"], sd.get(f"{key}.bias"), stride=2, padding=1)

    def up(key, x):
        return F.conv_transpose2d(x, sd[f"{key}.weight"], sd.get(f"{key}.bias"), 2, 1)

    def level(prefix, x, depth):  # a non-outermost level, returns cat([x, f(x)])
        h = down(f"{prefix}1", F.leaky_relu(x, 0.2))
        if depth == num_downs - 1:  # innermost
            h = _norm(sd, f"{prefix}4", up(f"{prefix}3", F.relu(h)), norm)
        else:
            h = _norm(sd, f"{prefix}2", h, norm)
            h = level(f"{prefix}3.model.", h, depth + 1)
            h = _norm(sd, f"{prefix}6", up(f"{prefix}5", F.relu(h)), norm)
        return torch.cat([x, h], 1)

    h = down("model.model.0", x)
    h = level("model.model.1.model.", h, 1)
    return torch.tanh(up("model.model.3", F.relu(h)))

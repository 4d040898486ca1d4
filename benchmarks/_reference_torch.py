"""The AVB training step as a plain PyTorch loop: the references for `fit`.

Two variants of the same loop (`torch.optim.Adam` per player, both players
updated simultaneously from one forward pass, each loss differentiated
with respect to its own player's parameters only):

- `TorchKerasReference` calls the model's own Keras networks, which are
  `torch.nn.Module`s under the torch backend (same layers, same weights
  layout, Keras' per-call overhead included);
- `TorchNNReference` uses equivalent `torch.nn` modules (NCHW convolutions,
  no Keras in the loop), the more demanding reference; with `fused=True`
  its Adam is `torch.optim.Adam(fused=True)`, one pass over the weights
  (about 5x faster than the default on this CPU).

Both run on the device Keras' torch backend uses (the GPU when there is
one), as `fit` does: networks, noise and batches.
"""

import numpy as np
import torch
from torch import nn
from keras.src.backend.torch.core import get_device
from torch.nn import functional as F

from _throughput_setup import LOG_2PI
from _throughput_setup import batches


def avb_losses(encode, decode, adversary, x, eps, z_reference, beta, s):
    """AVB + Adaptive Contrast losses and metrics from three callables."""
    z, mean, var = encode(x, eps)
    var = var.detach() + s.contrast_epsilon
    z_norm = (z - mean.detach()) * torch.rsqrt(var)
    log_r = -0.5 * torch.sum(z_norm**2 + torch.log(var) + LOG_2PI, dim=-1)
    t_post = adversary(x, z_norm)
    t_ref = adversary(x, z_reference)
    adversary_loss = torch.mean(F.softplus(-t_post) + F.softplus(t_ref))
    logits = decode(z)
    log_lik = torch.sum(x * logits - F.softplus(logits), dim=-1)
    kl = t_post + log_r + 0.5 * torch.sum(z**2 + LOG_2PI, dim=-1)
    loss = torch.mean(-log_lik + beta * kl)
    with torch.no_grad():
        metrics = torch.stack([
            loss, adversary_loss, torch.mean(log_lik - kl), torch.mean(kl),
            -torch.mean(log_lik) / x.shape[-1],
            torch.mean((t_post > 0).float()), torch.mean((t_ref < 0).float()),
        ])
    return loss, adversary_loss, metrics


class _TorchLoop:
    """The loop shared by both references; subclasses set the networks."""

    def __init__(self, generator_params, adversary_params, settings, fused=None):
        s = self.settings = settings
        self.device = torch.device(get_device())
        self.generator_params = list(generator_params)
        self.adversary_params = list(adversary_params)
        adam = dict(betas=(s.beta_1, s.beta_2), eps=s.epsilon, fused=fused)
        self.generator_optimizer = torch.optim.Adam(
            self.generator_params, lr=s.learning_rate, **adam)
        self.adversary_optimizer = torch.optim.Adam(
            self.adversary_params, lr=s.adversary_learning_rate, **adam)
        self.generator = torch.Generator(device=self.device).manual_seed(s.seed)
        self.rng = np.random.default_rng(s.seed)
        self.step = 0

    def train_step(self, x):
        s = self.settings
        batch = x.shape[0]
        eps = torch.randn((batch, s.num_bases * s.noise_dim), generator=self.generator,
                          device=self.device)
        z_reference = torch.randn((batch, s.latent_dim), generator=self.generator,
                                  device=self.device)
        beta = min(self.step / s.kl_annealing_steps, 1.0) if s.kl_annealing_steps else 1.0
        loss, adversary_loss, metrics = avb_losses(
            self.encode, self.decode, self.adversary, x, eps, z_reference, beta, s)
        self.generator_optimizer.zero_grad(set_to_none=True)
        self.adversary_optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=self.generator_params, retain_graph=True)
        adversary_loss.backward(inputs=self.adversary_params)
        self.generator_optimizer.step()
        self.adversary_optimizer.step()
        self.step += 1
        return metrics

    def run_epoch(self, x):
        """One shuffled epoch of the NumPy array `x`; returns the mean metrics."""
        sums, steps = 0.0, 0
        for batch in batches(x, self.settings.batch_size, self.rng):
            sums = sums + self.train_step(torch.from_numpy(batch).to(self.device))
            steps += 1
        return (sums / max(steps, 1)).tolist()


class TorchKerasReference(_TorchLoop):
    """The plain loop around the model's Keras networks (torch Modules)."""

    def __init__(self, model, settings):
        self.nets = (model.encoder, model.decoder, model.adversary)
        generator = [v.value for n in self.nets[:2] for v in n.trainable_variables]
        adversary = [v.value for v in model.adversary.trainable_variables]
        super().__init__(generator, adversary, settings)

    def encode(self, x, eps):
        return self.nets[0]([x, eps], training=True)

    def decode(self, z):
        return self.nets[1](z, training=True)

    def adversary(self, x, z):
        return self.nets[2]([x, z], training=True)


def _mlp(sizes, activation, last_linear=True):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if not (last_linear and i == len(sizes) - 2):
            layers.append(activation())
    return nn.Sequential(*layers)


class BasisNoise(nn.Module):
    """`keras_avb.layers.BasisNoiseEncoder` in torch (stacked basis MLPs)."""

    def __init__(self, features, s, noise_units=(128, 128, 128)):
        super().__init__()
        self.s = s
        self.mean_dense = nn.Linear(features, s.latent_dim)
        self.coefficient_dense = nn.Linear(features, s.num_bases * s.latent_dim)
        sizes = (s.noise_dim,) + tuple(noise_units) + (s.latent_dim,)
        self.kernels = nn.ParameterList(
            nn.Parameter(torch.randn(s.num_bases, a, b) / a**0.5)
            for a, b in zip(sizes[:-1], sizes[1:]))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.zeros(s.num_bases, b)) for b in sizes[1:])

    def forward(self, h, eps):
        s = self.s
        z0 = self.mean_dense(h)
        a = F.elu(self.coefficient_dense(h) - 5.0) + 1.0
        a = a.reshape(-1, s.num_bases, s.latent_dim)
        v = eps.reshape(-1, s.num_bases, s.noise_dim)
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            v = torch.einsum("bmi,mio->bmo", v, kernel) + bias
            if i < len(self.kernels) - 1:
                v = F.elu(v)
        z = z0 + torch.sum(a * v, dim=1)
        mean = z0 + torch.sum(a * v.mean(0), dim=1)
        variance = torch.sum(a**2 * v.var(0, correction=0), dim=1)
        return z, mean, variance


class Encoder(nn.Module):
    """The MNIST basis-noise encoder on MLP or conv features of 2x - 1."""

    def __init__(self, s):
        super().__init__()
        if s.architecture == "mlp":
            self.features = _mlp((784, 300, 300), nn.Softplus, last_linear=False)
            width = 300
        else:
            self.features = nn.Sequential(
                nn.Unflatten(1, (1, 28, 28)),
                nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ELU(),
                nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ELU(),
                nn.Conv2d(32, 32, 5, stride=2, padding=2), nn.ELU(),
                nn.Flatten(), nn.Linear(32 * 4 * 4, 800), nn.ELU())
            width = 800
        self.head = BasisNoise(width, s)

    def forward(self, x, eps):
        return self.head(self.features(2.0 * x - 1.0), eps)


def decoder(s):
    """The MNIST decoder: MLP 300-300 softplus, or the DC-GAN conv decoder."""
    if s.architecture == "mlp":
        return _mlp((s.latent_dim, 300, 300, 784), nn.Softplus)
    f = s.decoder_filters
    up = dict(kernel_size=5, stride=2, padding=2, output_padding=1)
    return nn.Sequential(
        nn.Linear(s.latent_dim, 7 * 7 * 8 * f), nn.ELU(), nn.Unflatten(1, (8 * f, 7, 7)),
        nn.ConvTranspose2d(8 * f, 4 * f, **up), nn.ELU(),
        nn.ConvTranspose2d(4 * f, 2 * f, **up), nn.ELU(),
        nn.ConvTranspose2d(2 * f, f, 5, padding=2), nn.ELU(),
        nn.ConvTranspose2d(f, 1, 5, padding=2), nn.Flatten())


class Adversary(nn.Module):
    """`MnistAdversary`: joint MLP on (2x - 1, z) plus x- and z-MLPs."""

    def __init__(self, s):
        super().__init__()
        u, d = s.adversary_units, s.adversary_depth
        self.joint = _mlp((784 + s.latent_dim,) + (u,) * d + (1,), nn.ELU)
        self.x_net = _mlp((784,) + (u,) * d + (1,), nn.ELU)
        self.z_net = _mlp((s.latent_dim,) + (u,) * d + (1,), nn.ELU)
        self.log_prior_trick = s.log_prior_trick

    def forward(self, x, z):
        x = 2.0 * x - 1.0
        t = self.joint(torch.cat([x, z], dim=-1)) + self.x_net(x) + self.z_net(z)
        t = t.reshape(-1)
        if self.log_prior_trick:
            t = t + 0.5 * torch.sum(z**2, dim=-1)
        return t


class TorchNNReference(_TorchLoop):
    """The plain loop around equivalent pure `torch.nn` networks."""

    def __init__(self, settings, fused=None):
        torch.manual_seed(settings.seed)
        device = torch.device(get_device())
        self.encoder = Encoder(settings).to(device)
        self.decoder = decoder(settings).to(device)
        self.adversary_net = Adversary(settings).to(device)
        generator = list(self.encoder.parameters()) + list(self.decoder.parameters())
        super().__init__(generator, self.adversary_net.parameters(), settings, fused)

    def encode(self, x, eps):
        return self.encoder(x, eps)

    def decode(self, z):
        return self.decoder(z)

    def adversary(self, x, z):
        return self.adversary_net(x, z)

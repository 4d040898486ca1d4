"""The AVB training step written directly in JAX: the reference for `fit`.

The Keras-documented "training loop from scratch" pattern: the same Keras
networks (encoder, decoder, adversary) are called with `stateless_call`
inside one `jax.jit`-compiled function; the loss, Adaptive Contrast, the
simultaneous gradients of both players and Adam are plain `jax.numpy`.

Both players' gradients come from one backward pass: the encoder/decoder
loss sees the adversary's weights through `stop_gradient`, the adversary's
loss sees the latent codes through `stop_gradient`; the two forward passes
of the adversary on the posterior codes are the same computation, which
XLA merges. This is the least work the step can do.
"""

import jax
import jax.numpy as jnp
import numpy as np

from _throughput_setup import LOG_2PI
from _throughput_setup import batches

METRICS = ("loss", "adversary_loss", "adversarial_elbo", "kl", "reconstruction_error",
           "adversary_accuracy_posterior", "adversary_accuracy_prior")


def _softplus(x):
    return jnp.logaddexp(x, 0.0)


def _adam(params, grads, m, v, step, rate, s):
    """Keras' Adam update (bias correction folded into the rate)."""
    t = step.astype("float32") + 1.0
    alpha = rate * jnp.sqrt(1.0 - s.beta_2**t) / (1.0 - s.beta_1**t)
    m = [s.beta_1 * mi + (1.0 - s.beta_1) * g for mi, g in zip(m, grads)]
    v = [s.beta_2 * vi + (1.0 - s.beta_2) * g * g for vi, g in zip(v, grads)]
    params = [p - alpha * mi / (jnp.sqrt(vi) + s.epsilon)
              for p, mi, vi in zip(params, m, v)]
    return params, m, v


class JAXReference:
    """A jitted AVB step on copies of a built model's networks' weights."""

    def __init__(self, model, settings):
        self.settings = settings
        self.nets = {"encoder": model.encoder, "decoder": model.decoder,
                     "adversary": model.adversary}
        self.noise_shape = tuple(model.noise_shape)
        params = {k: [jnp.array(v.value) for v in n.trainable_variables]
                  for k, n in self.nets.items()}
        self.frozen = {k: [jnp.array(v.value) for v in n.non_trainable_variables]
                       for k, n in self.nets.items()}
        zeros = lambda tree: jax.tree_util.tree_map(jnp.zeros_like, tree)  # noqa: E731
        self.state = dict(
            params=params, m=zeros(params), v=zeros(params),
            step=jnp.zeros((), "int32"),
            key=jax.random.PRNGKey(settings.seed),
            sums=jnp.zeros((len(METRICS),), "float32"),
        )
        self._step = jax.jit(self._train_step, donate_argnums=(0,))
        self.rng = np.random.default_rng(settings.seed)

    def _call(self, name, params, inputs):
        outputs, _ = self.nets[name].stateless_call(
            params, self.frozen[name], inputs, training=True
        )
        return outputs

    def _losses(self, params, x, eps, z_reference, beta):
        s = self.settings
        z, mean, var = self._call("encoder", params["encoder"], [x, eps])
        # Adaptive Contrast: standardise by the (constant) moments of q(z|x).
        var = jax.lax.stop_gradient(var) + s.contrast_epsilon
        z_norm = (z - jax.lax.stop_gradient(mean)) * jax.lax.rsqrt(var)
        log_r = -0.5 * jnp.sum(z_norm**2 + jnp.log(var) + LOG_2PI, axis=-1)
        frozen_adversary = jax.lax.stop_gradient(params["adversary"])
        t_post_g = self._call("adversary", frozen_adversary, [x, z_norm])
        t_post_a = self._call("adversary", params["adversary"],
                              [x, jax.lax.stop_gradient(z_norm)])
        t_ref = self._call("adversary", params["adversary"], [x, z_reference])
        adversary_loss = jnp.mean(_softplus(-t_post_a) + _softplus(t_ref))
        logits = self._call("decoder", params["decoder"], z)
        log_lik = jnp.sum(x * logits - _softplus(logits), axis=-1)
        log_prior = -0.5 * jnp.sum(z**2 + LOG_2PI, axis=-1)
        kl = t_post_g + log_r - log_prior
        loss = jnp.mean(-log_lik + beta * kl)
        metrics = jnp.stack([
            loss, adversary_loss, jnp.mean(log_lik - kl), jnp.mean(kl),
            -jnp.mean(log_lik) / x.shape[-1],
            jnp.mean((t_post_a > 0).astype("float32")),
            jnp.mean((t_ref < 0).astype("float32")),
        ])
        return loss + adversary_loss, metrics

    def _train_step(self, state, x):
        s = self.settings
        key, k_eps, k_ref = jax.random.split(state["key"], 3)
        eps = jax.random.normal(k_eps, (x.shape[0],) + self.noise_shape)
        z_reference = jax.random.normal(k_ref, (x.shape[0], s.latent_dim))
        step = state["step"]
        beta = 1.0
        if s.kl_annealing_steps:
            beta = jnp.minimum(step.astype("float32") / s.kl_annealing_steps, 1.0)
        grads, metrics = jax.grad(self._losses, has_aux=True)(
            state["params"], x, eps, z_reference, beta
        )
        new = dict(params={}, m={}, v={})
        for name in self.nets:
            rate = (s.adversary_learning_rate if name == "adversary"
                    else s.learning_rate)
            p, m, v = _adam(state["params"][name], grads[name], state["m"][name],
                            state["v"][name], step, rate, s)
            new["params"][name], new["m"][name], new["v"][name] = p, m, v
        return dict(new, step=step + 1, key=key, sums=state["sums"] + metrics)

    def run_epoch(self, x):
        """One shuffled epoch of `x`; returns the mean metrics (synchronises)."""
        steps = 0
        for batch in batches(x, self.settings.batch_size, self.rng):
            self.state = self._step(self.state, batch)
            steps += 1
        sums = np.asarray(self.state["sums"])  # waits for the last step
        self.state["sums"] = jnp.zeros_like(self.state["sums"])
        return dict(zip(METRICS, (sums / max(steps, 1)).tolist()))

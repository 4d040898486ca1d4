import jax
import jax.numpy as jnp
from keras import StatelessScope

from keras_avb.trainers import loss_scaling

from keras_avb.trainers.stateful_trainer import unpack_x


class JAXPlayersTrainer:
    """Stateless training step: every phase maps the state in and out.

    Only `model.optimizer`'s variables are part of the JAX training state,
    so the players' optimizers must live inside `model.optimizer` (AVB
    uses a `keras.optimizers.MultiOptimizer`); each player's gradients are
    then applied by its own optimizer inside a `StatelessScope`.
    """

    def _stateless_losses(self, phase, x, trainable, non_trainable, optimizer_vars):
        mapping = (
            list(zip(self.trainable_variables, trainable))
            + list(zip(self.non_trainable_variables, non_trainable))
            + list(zip(self.optimizer.variables, optimizer_vars))
        )
        with StatelessScope(state_mapping=mapping) as scope:
            losses, values = self.compute_losses(x, phase, training=True)
        non_trainable = [
            scope.get_current_value(v) for v in self.non_trainable_variables
        ]
        return tuple(losses[name] for name in phase), (values, non_trainable)

    def _run_phase(self, phase, x, trainable, non_trainable, optimizer_vars):
        def forward(trainable):
            return self._stateless_losses(
                phase, x, trainable, non_trainable, optimizer_vars
            )

        losses, pullback, (values, non_trainable) = jax.vjp(
            forward, trainable, has_aux=True
        )
        players = self.players()
        position = {id(v): i for i, v in enumerate(self.trainable_variables)}
        scaler = loss_scaling.loss_scaler(self)
        if scaler is not None:
            # mixed_float16: backpropagate `scale` instead of 1 (loss scaling).
            opt_position = {id(v): i for i, v in enumerate(self.optimizer.variables)}
            scale = optimizer_vars[opt_position[id(scaler.dynamic_scale)]]
        grads = {}
        for index, name in enumerate(phase):
            seed = 1.0 if scaler is None else scale
            cotangent = tuple(
                jnp.full_like(l, seed) if i == index else jnp.zeros_like(l)
                for i, l in enumerate(losses)
            )
            (all_grads,) = pullback(cotangent)
            grads[name] = [all_grads[position[id(v)]] for v in players[name][0]]
        if scaler is not None:
            finite = jnp.all(
                jnp.array([jnp.all(jnp.isfinite(g)) for n in phase for g in grads[n]])
            )
            grads = {n: [g / scale.astype(g.dtype) for g in gs] for n, gs in grads.items()}
        old_trainable, old_optimizer_vars = trainable, optimizer_vars
        mapping = list(zip(self.trainable_variables, trainable)) + list(
            zip(self.optimizer.variables, optimizer_vars)
        )
        with StatelessScope(state_mapping=mapping) as scope:
            for name in phase:
                variables, optimizer = players[name]
                if scaler is not None:
                    optimizer = loss_scaling.unwrap(optimizer, scaler)
                optimizer.apply(grads[name], variables)
        trainable = [scope.get_current_value(v) for v in self.trainable_variables]
        optimizer_vars = [scope.get_current_value(v) for v in self.optimizer.variables]
        if scaler is not None:
            trainable, optimizer_vars = self._select_finite_update(
                scaler, finite, old_trainable, trainable, old_optimizer_vars, optimizer_vars
            )
        return trainable, non_trainable, optimizer_vars, values

    def _select_finite_update(
        self, scaler, finite, old_trainable, trainable, old_optimizer_vars, optimizer_vars
    ):
        """Keeps a finite phase's update, or the old state with half the scale."""
        keep = lambda new, old: [jnp.where(finite, n, o) for n, o in zip(new, old)]  # noqa: E731
        trainable = keep(trainable, old_trainable)
        optimizer_vars = keep(optimizer_vars, old_optimizer_vars)
        position = {id(v): i for i, v in enumerate(self.optimizer.variables)}
        i_scale = position[id(scaler.dynamic_scale)]
        i_count = position[id(scaler.step_counter)]
        optimizer_vars[i_scale], optimizer_vars[i_count] = loss_scaling.next_scale(
            finite,
            old_optimizer_vars[i_scale],
            old_optimizer_vars[i_count],
            scaler.dynamic_growth_steps,
        )
        return trainable, optimizer_vars

    def _stateless_update_metrics(self, metrics_vars, values):
        mapping = list(zip(self.metrics_variables, metrics_vars))
        with StatelessScope(state_mapping=mapping) as scope:
            logs = self.update_metrics(values)
        metrics_vars = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, metrics_vars

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x = unpack_x(data)
        values = {}
        for phase in self.update_schedule:
            trainable, non_trainable, optimizer_vars, phase_values = self._run_phase(
                phase, x, trainable, non_trainable, optimizer_vars
            )
            values.update(phase_values)
        if self.counts_own_iterations:
            mapping = list(zip(self.optimizer.variables, optimizer_vars))
            with StatelessScope(state_mapping=mapping) as scope:
                self.optimizer.iterations.assign_add(1)
            optimizer_vars = [
                scope.get_current_value(v) for v in self.optimizer.variables
            ]
        logs, metrics_vars = self._stateless_update_metrics(metrics_vars, values)
        return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)

    def test_step(self, state, data):
        trainable, non_trainable, metrics_vars = state
        x = unpack_x(data)
        mapping = list(zip(self.trainable_variables, trainable)) + list(
            zip(self.non_trainable_variables, non_trainable)
        )
        with StatelessScope(state_mapping=mapping) as scope:
            _, values = self.compute_losses(x, tuple(self.players()), training=False)
        non_trainable = [
            scope.get_current_value(v) for v in self.non_trainable_variables
        ]
        logs, metrics_vars = self._stateless_update_metrics(metrics_vars, values)
        return logs, (trainable, non_trainable, metrics_vars)

import jax
from keras import StatelessScope

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
        mapping = list(zip(self.trainable_variables, trainable)) + list(
            zip(self.optimizer.variables, optimizer_vars)
        )
        with StatelessScope(state_mapping=mapping) as scope:
            for index, name in enumerate(phase):
                cotangent = tuple(
                    jax.numpy.ones_like(l) if i == index else jax.numpy.zeros_like(l)
                    for i, l in enumerate(losses)
                )
                (all_grads,) = pullback(cotangent)
                variables, optimizer = players[name]
                grads = [all_grads[position[id(v)]] for v in variables]
                optimizer.apply(grads, variables)
        trainable = [scope.get_current_value(v) for v in self.trainable_variables]
        optimizer_vars = [scope.get_current_value(v) for v in self.optimizer.variables]
        return trainable, non_trainable, optimizer_vars, values

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

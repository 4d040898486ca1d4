"""A small random search whose best model comes back trained and usable."""

import keras
import keras_tuner
import numpy as np
from keras import ops

import keras_avb
import keras_avb.tuner
from keras_avb.testing import four_point_data


def tiny_hypermodel(**kwargs):
    options = dict(
        latent_dims=(2, 3),
        num_bases=(2, 3),
        learning_rate_range=(1e-3, 1e-2),
        adversary_learning_rate_range=(1e-3, 1e-2),
        adversary_steps=(0, 1),
        adaptive_contrast=(False, True),
        hidden_units=8,
        hidden_layers=1,
        noise_dim=2,
        noise_units=(4,),
        adversary_units=8,
        adversary_blocks=1,
        seed=0,
    )
    options.update(kwargs)
    return keras_avb.tuner.AVBHyperModel((4,), **options)


def test_search_space_and_config_round_trip():
    hypermodel = tiny_hypermodel()
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert isinstance(model, keras_avb.AVB)
    assert set(hp.values) == {
        "latent_dim",
        "num_bases",
        "learning_rate",
        "adversary_learning_rate",
        "adversary_steps",
        "adaptive_contrast",
    }
    assert model.latent_dim == hp.values["latent_dim"]
    assert model.noise_shape == (hp.values["num_bases"] * 2,)
    np.testing.assert_allclose(
        float(model.adversary_optimizer.learning_rate),
        hp.values["adversary_learning_rate"],
        rtol=1e-6,
    )
    clone = keras_avb.tuner.AVBHyperModel.from_config(hypermodel.get_config())
    assert clone.get_config() == hypermodel.get_config()
    # Fixed choices are recorded as such, and 0 adversary steps is simultaneous.
    hp = keras_tuner.HyperParameters()
    model = tiny_hypermodel(adversary_steps=(0,), adaptive_contrast=(True,)).build(hp)
    assert model.adversary_steps is None and model.adaptive_contrast
    assert keras_avb.tuner.OBJECTIVE.name == "val_elbo"
    assert keras_avb.tuner.OBJECTIVE.direction == "max"


def test_random_search_returns_a_trained_usable_avb(tmp_path):
    x = four_point_data(96, seed=0)
    x_val = four_point_data(64, seed=1)
    tuner = keras_tuner.RandomSearch(
        tiny_hypermodel(),
        objective=keras_avb.tuner.OBJECTIVE,
        max_trials=2,
        directory=tmp_path,
        project_name="avb",
        seed=0,
    )
    tuner.search(x, validation_data=(x_val,), epochs=1, batch_size=32, verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2
    scores = [t.score for t in trials]
    assert all(np.isfinite(scores)) and scores[0] >= scores[1]

    best = tuner.get_best_models(1)[0]
    assert isinstance(best, keras_avb.AVB)
    hp = tuner.get_best_hyperparameters(1)[0]
    assert best.latent_dim == hp.values["latent_dim"]
    # The reloaded weights are the trained ones, not a fresh initialisation.
    fresh = tuner.hypermodel.build(hp)
    trained = [ops.convert_to_numpy(v) for v in best.trainable_weights]
    initial = [ops.convert_to_numpy(v) for v in fresh.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(trained, initial))
    # Usable: it samples, reconstructs, evaluates near the best score and trains on.
    assert ops.convert_to_numpy(best.sample(5)).shape == (5, 4)
    assert ops.convert_to_numpy(best(x_val[:3])).shape == (3, 4)
    logs = best.evaluate(x_val, batch_size=32, verbose=0, return_dict=True)
    assert np.isfinite(logs["elbo"])
    assert abs(logs["elbo"] - scores[0]) < 1.0  # same weights, fresh noise
    best.compile(
        optimizer=keras.optimizers.Adam(1e-3), adversary_optimizer=keras.optimizers.Adam(1e-3)
    )
    history = best.fit(x, batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["elbo"][0])

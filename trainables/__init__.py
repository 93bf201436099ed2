"""What runs in a trial: the data, the model, the loss, the training run, STS evaluation at every depth from
one forward pass, and the Ray Tune trainable. It never imports the sweep, which drives it.

Modules: ``data``, ``model``, ``model_support`` (which models can be scored per depth), ``model_check`` (the
model checked once, in the driver), ``loss``, ``training``, ``selection`` (a run's best evaluation, and its
weights), ``evaluation``, ``adaptive_layer`` (the trainable), ``hold`` (a switch for the fault tests,
``SWEEP_TEST_HOLD``: a run waits after an evaluation while a file exists, so that a kill lands mid-run; unset,
nothing waits), ``internals`` (every library internal and environment switch the code relies on, each with why
no public route exists; ``tests/test_internals.py`` checks them against the installed libraries).
"""

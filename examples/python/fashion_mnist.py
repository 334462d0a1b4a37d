"""Build, compile, train and use a Fashion-MNIST classifier without leaving Python.

    .venv/bin/python examples/python/fashion_mnist.py [EPOCHS]

Builds the 784-256-256-10 MLP of models/mlp_mnist.pbtxt with dlc.layers,
compiles it for this CPU, trains it with dlc.fit (the loop of `dlrun train`,
with its progress bar) and draws training.svg, then predicts the test set.
"""

import sys

import numpy as np

import dlc

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
(x_train, y_train), (x_test, y_test) = dlc.datasets.fashion_mnist()

g = dlc.Graph()
x = g.input("x", [dlc.batch, 784])
y = g.label("label", [dlc.batch])
h = dlc.layers.dense(g, x, 256, activation="relu")
h = dlc.layers.dense(g, h, 256, activation="relu")
logits = dlc.layers.dense(g, h, 10)
g.output("probs", dlc.ops.softmax(logits))
g.train(loss=dlc.losses.softmax_cross_entropy(logits, y), optimizer=dlc.optim.adam(1e-3))

model = dlc.load(dlc.compile(g, batch=128, target="cpu", seed=1))
history = dlc.fit(model, train=(x_train, y_train), test=(x_test, y_test), epochs=epochs, seed=1,
                  plot="training.svg")
print(f"test accuracy after {history.epochs_done} epochs: {history.test['accuracy']:.4f} (plot: training.svg)")

probs = model.predict(x=x_test)  # all 10000 rows, in batches of 128
print("predicted classes of the first 10 test images:", probs[:10].argmax(1), "labels:", y_test[:10])
assert np.isclose((probs.argmax(1) == y_test).mean(), history.test["accuracy"])
model.save("fashion_mnist.safetensors")

// The text printer: a graph as compact, readable text, one node a line.
//
//   input %x : f32[batch,784]
//   input %label : i32[batch] (label)
//   param %w1 : f32[784,256] = he
//   %z1 = matmul(%x, %w1) {transpose_b=true} : f32[batch,256]
//   %h1 = relu(%z1) : f32[batch,256]
//   output %probs : f32[batch,10]
//
// Used by `dlc print`, by --dump-after, and by golden-text pass tests.
#pragma once

#include <string>

#include "ir/graph.h"

namespace dlc {

/// Prints inputs, parameters (with initializers), nodes in order with their
/// inferred types (": ?" where shape inference has not typed a value), and
/// outputs. Attributes print sorted by name, so the text is deterministic.
std::string print_graph(const Graph& g);

/// print_graph plus the training section (loss, optimizer and its
/// hyper-parameters, regularization) and, once passes have filled them,
/// the gradient of each parameter and the state updates of a train step.
std::string print_model(const Model& m);

/// "adam {learning_rate=0.001, beta1=0.9}": the kind and the set hyper-parameters.
std::string print_optimizer(const proto::Optimizer& o);

/// "regularize l2=0.0001 on %w1, %w2".
std::string print_regularizer(const proto::Regularizer& r);

/// One initializer as text: "zeros", "normal(mean=0, std=0.01)", "data[1, 2]".
std::string print_initializer(const proto::Initializer& init);

/// One attribute value as text: "true", "3", "0.5", "[0,1]", "f32", "\"s\"".
std::string print_attr_value(const proto::AttrValue& v);

/// A double in the shortest form that reads back to the same value.
std::string format_number(double v);

}  // namespace dlc

// A model for the dlrun image-input tests that uses only long-standing ops:
// softmax regression on 28x28 images whose DATA input may be shaped
// [batch,784], [batch,28,28] or [batch,1,28,28] (a reshape to [batch,784]
// comes first). Every shape gets the same parameters from the same seed, so
// the three train and predict to the same bytes when dlrun feeds their rows
// alike.
#pragma once

#include <fstream>
#include <string>

namespace dlc::test {

/// The DATA input shapes (after the batch) the image tests cover.
inline const char* const kImageRowShapes[] = {"784", "28, 28", "1, 28, 28"};

/// Writes the model with DATA input x f32[-1, `row_shape`] to
/// DIR/image_NAME.pbtxt (NAME: the shape's digits); returns the path.
inline std::string write_image_input_model(const std::string& dir, const std::string& row_shape) {
  std::string name;
  for (char c : row_shape)
    if (c >= '0' && c <= '9') name += c;
    else if (c == ',') name += 'x';
  std::string path = dir + "/image_" + name + ".pbtxt";
  std::ofstream(path) << "graph {\n"
                         "  inputs { name: \"x\" type { dtype: F32 dims: [-1, " << row_shape << "] } role: DATA }\n"
                         "  inputs { name: \"label\" type { dtype: I32 dims: [-1] } role: LABEL }\n"
                         "  params { name: \"W\" type { dtype: F32 dims: [784, 10] } init { he {} } }\n"
                         "  params { name: \"b\" type { dtype: F32 dims: [10] } init { zeros {} } }\n"
                         "  nodes { op: \"reshape\" inputs: \"x\" outputs: \"rows\"\n"
                         "          attrs { key: \"dims\" value { ints { values: [-1, 784] } } } }\n"
                         "  nodes { op: \"matmul\" inputs: [\"rows\", \"W\"] outputs: \"xW\" }\n"
                         "  nodes { op: \"add\" inputs: [\"xW\", \"b\"] outputs: \"logits\" }\n"
                         "  nodes { op: \"softmax\" inputs: \"logits\" outputs: \"probs\"\n"
                         "          attrs { key: \"axis\" value { i: -1 } } }\n"
                         "  nodes { op: \"softmax_cross_entropy\" inputs: [\"logits\", \"label\"] outputs: \"loss\" }\n"
                         "  outputs: \"probs\"\n"
                         "}\n"
                         "training { loss: \"loss\" optimizer { kind: \"adam\" learning_rate: 0.001 } }\n";
  return path;
}

}  // namespace dlc::test

// embed_cpp: trains an executable compiled by `dlc compile` for a few steps
// on Fashion-MNIST through the runtime's C++ wrapper (dlrt.hpp) alone, checks
// that the loss went down, and saves a checkpoint.
//
//   embed_cpp MODEL.dlc IMAGES LABELS CHECKPOINT [STEPS]
//
// IMAGES and LABELS are uncompressed IDX files (gunzip Fashion-MNIST's
// train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz); step k feeds
// the k-th batch of them in file order. The model must have a training
// section. train_step's inputs are bound by their role, as `dlrun train`
// does: DATA (pixels scaled to [0, 1]), LABEL (class indices),
// LEARNING_RATE (the model's own), STEP (1, 2, ...). CHECKPOINT is a
// safetensors file of every parameter and the optimizer state, which
// `dlrun eval --weights` and embed_c --weights read. Exit status 1 on an
// error or when the loss did not go down.
#include <dlrt.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// The first `count` items of an IDX file of unsigned bytes with `rank`
/// dimensions; throws std::runtime_error naming the file.
std::vector<uint8_t> read_idx(const std::string& path, int rank, int64_t count, int64_t* item_size) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  auto be32 = [&]() {
    unsigned char b[4] = {};
    if (!f.read(reinterpret_cast<char*>(b), 4)) throw std::runtime_error(path + ": truncated header");
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  };
  if (be32() != (0x0800u | static_cast<uint32_t>(rank)))
    throw std::runtime_error(path + ": not an IDX file of unsigned bytes with " + std::to_string(rank) +
                             " dimensions (gunzip it first?)");
  int64_t items = be32(), size = 1;
  for (int k = 1; k < rank; ++k) size *= be32();
  if (items < count)
    throw std::runtime_error(path + " holds " + std::to_string(items) + " items, fewer than the " +
                             std::to_string(count) + " needed");
  std::vector<uint8_t> data(static_cast<size_t>(count * size));
  if (!f.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size())))
    throw std::runtime_error(path + ": truncated");
  *item_size = size;
  return data;
}

/// An input or output buffer of any dtype, read and written as double.
struct Buffer {
  dlrt::TensorInfo info;
  std::vector<unsigned char> bytes;

  explicit Buffer(const dlrt::TensorInfo& i)
      : info(i), bytes(static_cast<size_t>(i.numel) * dlrt_dtype_size(i.dtype)) {}
  void set(int64_t k, double v) {
    switch (info.dtype) {
      case DLRT_F32: store(k, static_cast<float>(v)); break;
      case DLRT_F64: store(k, v); break;
      case DLRT_I32: store(k, static_cast<int32_t>(v)); break;
      case DLRT_I64: store(k, static_cast<int64_t>(v)); break;
      case DLRT_BOOL: store(k, static_cast<uint8_t>(v != 0)); break;
    }
  }
  double get(int64_t k) const {
    switch (info.dtype) {
      case DLRT_F32: return load<float>(k);
      case DLRT_F64: return load<double>(k);
      case DLRT_I32: return load<int32_t>(k);
      case DLRT_I64: return static_cast<double>(load<int64_t>(k));
      case DLRT_BOOL: return load<uint8_t>(k);
    }
    return 0;
  }
  dlrt_input input() const { return {info.name.c_str(), info.dtype, bytes.data(), info.numel}; }
  dlrt_output output() { return {info.name.c_str(), info.dtype, bytes.data(), info.numel}; }

 private:
  template <typename T> void store(int64_t k, T v) { std::memcpy(bytes.data() + k * sizeof(T), &v, sizeof(T)); }
  template <typename T> T load(int64_t k) const {
    T v;
    std::memcpy(&v, bytes.data() + k * sizeof(T), sizeof(T));
    return v;
  }
};

int run(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: embed_cpp MODEL.dlc IMAGES LABELS CHECKPOINT [STEPS]\n");
    return 2;
  }
  const std::string model_path = argv[1], checkpoint = argv[4];
  const int64_t steps = argc == 6 ? std::stoll(argv[5]) : 20;
  if (steps < 2) throw std::runtime_error("STEPS must be at least 2 to see the loss go down");

  dlrt::Model model(model_path);
  if (!model.has_entry("train_step"))
    throw std::runtime_error(model_path + ": no train_step (compile a model with a training section)");
  const int64_t batch = model.batch();

  // train_step's inputs, each bound by its role.
  std::vector<Buffer> inputs;
  Buffer *data = nullptr, *label = nullptr, *learning_rate = nullptr, *step = nullptr;
  for (const auto& in : model.entry_inputs("train_step")) inputs.emplace_back(in);
  for (auto& b : inputs) {
    switch (b.info.role) {
      case DLRT_ROLE_DATA: data = &b; break;
      case DLRT_ROLE_LABEL: label = &b; break;
      case DLRT_ROLE_LEARNING_RATE: learning_rate = &b; break;
      case DLRT_ROLE_STEP: step = &b; break;
      default: throw std::runtime_error("train_step input '" + b.info.name + "' has no role this example feeds");
    }
  }
  if (!data || !label || label->info.numel != batch || data->info.dims.empty() || data->info.dims[0] != batch)
    throw std::runtime_error(model_path + ": train_step does not take a batch of examples and one label each");
  if (label->info.dtype == DLRT_F32 || label->info.dtype == DLRT_F64)
    throw std::runtime_error(model_path + ": a regression model (float labels); this example feeds class indices");
  const int64_t features = data->info.numel / batch;

  // The loss is one of train_step's outputs, named by the training section.
  const std::string loss_name = model.loss();
  std::vector<Buffer> outputs;
  for (const auto& out : model.entry_outputs("train_step"))
    if (out.name == loss_name) outputs.emplace_back(out);
  if (outputs.empty() || outputs[0].info.numel != 1)
    throw std::runtime_error(model_path + ": train_step does not output the scalar loss '" + loss_name + "'");

  int64_t image_size = 0, label_size = 0;
  const auto images = read_idx(argv[2], 3, steps * batch, &image_size);
  const auto labels = read_idx(argv[3], 1, steps * batch, &label_size);
  if (image_size != features)
    throw std::runtime_error(std::string(argv[2]) + ": images of " + std::to_string(image_size) + " pixels, but '" +
                             data->info.name + "' takes " + std::to_string(features) + " values per example");

  std::printf("%s: %s target, batch %lld, learning rate %g, %lld steps\n", model_path.c_str(),
              model.target().c_str(), static_cast<long long>(batch), model.default_learning_rate(),
              static_cast<long long>(steps));
  std::vector<double> losses;
  std::vector<dlrt_input> in;
  std::vector<dlrt_output> out = {outputs[0].output()};
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t first = s * batch;
    for (int64_t k = 0; k < batch * features; ++k)
      data->set(k, images[static_cast<size_t>(first * features + k)] / 255.0);
    for (int64_t k = 0; k < batch; ++k) label->set(k, labels[static_cast<size_t>(first + k)]);
    if (learning_rate) learning_rate->set(0, model.default_learning_rate());
    if (step) step->set(0, static_cast<double>(s + 1));  // the 1-based number of this update
    in.clear();
    for (const auto& b : inputs) in.push_back(b.input());
    model.run("train_step", in, out);
    losses.push_back(outputs[0].get(0));
    std::printf("step %lld: loss %.4f\n", static_cast<long long>(s + 1), losses.back());
  }

  // One batch's loss is noisy: compare the mean of the first and last few.
  const size_t window = std::min<size_t>(3, losses.size() / 2);
  const double first = std::accumulate(losses.begin(), losses.begin() + window, 0.0) / window;
  const double last = std::accumulate(losses.end() - window, losses.end(), 0.0) / window;
  std::printf("mean loss of the first %zu steps %.4f, of the last %zu %.4f\n", window, first, window, last);
  if (!(last < first)) {
    std::fprintf(stderr, "embed_cpp: the loss did not go down\n");
    return 1;
  }
  model.save_checkpoint(checkpoint, {{"step", std::to_string(steps)}});
  std::printf("saved %s\n", checkpoint.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const dlrt::Error& e) {
    std::fprintf(stderr, "embed_cpp: %s: %s\n", dlrt_status_name(e.status()), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed_cpp: %s\n", e.what());
  }
  return 1;
}

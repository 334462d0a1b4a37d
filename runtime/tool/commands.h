// The subcommands of the `dlrun` tool, one file each (runtime/tool/cmd_*.cc).
//
// Each takes the arguments after `dlrun`: argv[0] is the subcommand's name,
// the rest its options and files. Each handles `--help` itself, prints its
// results to stdout and its errors to stderr, and returns the exit status:
// 0 success, 1 the model, data or a file is at fault, 2 a usage error.
// Commands reach the model only through the C API (dlrt.h / dlrt.hpp); a
// dlrt::Error or dlc::Error escaping a command is printed by the dispatcher
// (exit 1). To add a command: declare it here, add a row to the table in
// dlrun.cc.
#pragma once

namespace dlc {

/// `dlrun info MODEL.dlc`: what an executable holds and needs.
int cmd_info(int argc, char** argv);
/// `dlrun predict MODEL.dlc --input X.npy --output Y.npy`: the model's outputs for any number of rows.
int cmd_predict(int argc, char** argv);
/// `dlrun train MODEL.dlc --data DIR --epochs N`: trains a classifier, evaluating after every epoch.
int cmd_train(int argc, char** argv);
/// `dlrun eval MODEL.dlc --data DIR [--weights CKPT]`: test loss, accuracy and confusion matrix.
int cmd_eval(int argc, char** argv);
/// `dlrun bench MODEL.dlc [--steps N]`: times train_step and predict on one batch.
int cmd_bench(int argc, char** argv);
/// `dlrun plot METRICS.csv -o FILE.svg`: an SVG picture of a run from its `dlrun train --metrics` CSV.
int cmd_plot(int argc, char** argv);

}  // namespace dlc

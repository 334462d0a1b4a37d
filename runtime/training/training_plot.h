// Pictures of a training run: an SVG of the losses and the test (and
// validation) metrics, epoch by epoch, drawn from a TrainingHistory; and the
// history read back from the CSV that `dlrun train --metrics` writes, so a
// finished run can be drawn by `dlrun plot`.
#pragma once

#include <string>

#include "runtime/training/training_run.h"

namespace dlc {

/// A self-contained SVG 1.1 document (no scripts, fonts or style sheets; any
/// browser or rsvg-convert shows it) of `h`, titled `title`, in two panels
/// side by side:
///
///   * losses: the training loss of every update (a thin light line), and per
///     epoch the mean training loss, the test loss and the validation loss
///     (lines with a marker per epoch, up to 60 epochs). A regression draws its mean squared
///     errors instead (train, test, validation). The y axis is logarithmic
///     when every value is positive and they span more than a decade
///     (largest / smallest > 10), linear otherwise; its title says which.
///   * metrics: per epoch the test accuracy and the validation accuracy, or
///     for a regression the test and validation R^2.
///
/// The x axis counts updates (update number first_step + i + 1 for
/// step_losses[i]; an epoch's figures at epoch * steps_per_epoch). When
/// steps_per_epoch is 0 (a history read from a metrics CSV) it counts epochs
/// instead and there is no per-update curve.
///
/// Each curve is one <polyline> whose class attribute is "curve NAME", NAME
/// being one of step-loss, train-loss, test-loss, val-loss, test-accuracy,
/// val-accuracy (classification) or step-loss, train-loss, test-mse, val-mse,
/// test-r2, val-r2 (regression). A curve holds one point per finite value, in
/// order (non-finite values are left out, not drawn as gaps); validation
/// curves appear only when the epochs have validation figures, and a curve
/// with no finite value has no polyline (its legend entry says so). The one
/// exception to a point per value: more than 20000 updates are drawn as
/// 20000 or fewer points, each the mean of k = ceil(updates / 20000)
/// consecutive finite losses, placed at the last update of its group. Each
/// panel's plot area is a <rect class="plot-area">; every point lies inside.
std::string training_plot_svg(const TrainingHistory& h, const std::string& title);

/// Writes training_plot_svg(h, title) to `path` atomically (a reader sees the
/// old picture or the new one). Throws dlc::Error naming the path.
void write_training_plot(const TrainingHistory& h, const std::string& path, const std::string& title);

/// The history in a CSV written by `dlrun train --metrics`: the header
/// "epoch,train_loss,test_loss,test_accuracy,seconds" (classification) or
/// "epoch,train_loss,test_mse,test_r2,seconds" (regression), either with
/// ",val_loss,val_accuracy" or ",val_mse,val_r2" when the run held out a
/// validation split, then one row per epoch, epochs counting up by one (a
/// resumed run's CSV starts after the epochs already done). Parsing is
/// strict: every field a number within its range (losses >= 0, accuracy in
/// [0, 1], R^2 <= 1), as many fields as the header, no blank lines; "nan"
/// and "inf" are taken in the metric columns (R^2 is NaN when every target
/// is the same). The history has no per-update losses and steps_per_epoch 0;
/// final_test is the last epoch's, best_epoch the first with the lowest
/// validation loss. Throws dlc::Error "FILE:LINE: ..." naming the bad value.
TrainingHistory read_metrics_csv(const std::string& path);

}  // namespace dlc

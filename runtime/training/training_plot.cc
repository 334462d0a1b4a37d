#include "runtime/training/training_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ir/error.h"
#include "ir/file_io.h"

namespace dlc {
namespace {

// Geometry in SVG user units (pixels at 100%): two panels side by side
// under a title and a summary line; below each plot area its x tick labels,
// x axis title and legend, so the legend never hides a curve.
constexpr double kWidth = 1040;
constexpr double kPanelWidth = kWidth / 2;
constexpr double kTitleY = 28;     // the title's baseline
constexpr double kSummaryY = 50;   // the first summary line's baseline
constexpr double kSummaryRow = 17;
constexpr double kPlotTop = 76;    // with one summary line
constexpr double kPlotHeight = 300;
constexpr double kRightMargin = 26;
constexpr double kLegendGap = 62;  // from the plot area's bottom to the first legend row's baseline
constexpr double kLegendRow = 20;
// Text widths are estimated (no font metrics without a renderer): a mean
// advance per character that is generous for DejaVu Sans, which rsvg-convert
// uses on Debian, and so more so for Helvetica and Arial.
constexpr double kFontSize = 12;
constexpr double kCharWidth = 7.0;  // at kFontSize
constexpr double kMinTickGap = 18;  // pixels between y tick labels
constexpr size_t kMaxStepPoints = 20000;
// Losses spanning more decades than this are drawn on a log scale.
constexpr double kLogDecades = 1.0;
constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

/// Length in characters (UTF-8 code points) for width estimates.
size_t chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

double text_width(const std::string& s, double font_size = kFontSize) {
  return static_cast<double>(chars(s)) * kCharWidth * font_size / kFontSize;
}

/// `s` as XML character data or attribute text: markup characters escaped,
/// bytes that are not UTF-8 and characters XML 1.0 forbids (controls other
/// than tab and newline) replaced by U+FFFD, so any title makes a
/// well-formed document.
std::string xml_text(const std::string& s) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F ? kReplacement : std::string(1, c);
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence: its length, the code point's least value
    // (no overlong forms), no surrogates, at most U+10FFFF.
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    uint32_t cp = len == 4 ? c & 0x07 : len == 3 ? c & 0x0F : c & 0x1F;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      ok = (d & 0xC0) == 0x80;
      cp = (cp << 6) | (d & 0x3F);
    }
    ok = ok && !(len == 3 && cp < 0x800) && !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) &&
         !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF;
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

/// `s` cut to at most `max` characters, ending in an ellipsis when cut.
std::string truncated(const std::string& s, size_t max) {
  if (chars(s) <= max) return s;
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80 && ++n > max - 1) break;
    out += s[i];
  }
  return out + "\xE2\x80\xA6";
}

// --- axes ---------------------------------------------------------------

/// The smallest of 1, 2, 5 x 10^k that is at least `raw` (> 0).
double nice_step(double raw) {
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/// A tick label: as few decimals as the step needs; %g for very large or
/// small values, with its exponent shortened ("1e-05" -> "1e-5").
std::string tick_label(double v, double step, bool log) {
  std::string s;
  int decimals = step < 1 ? static_cast<int>(std::ceil(-std::log10(step) - 1e-9)) : 0;
  if (log || std::fabs(v) >= 1e6 || decimals > 5) {
    s = format("%.6g", v);
    size_t e = s.find('e');
    if (e != std::string::npos) {
      std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
      bool negative = exponent[0] == '-';
      exponent = exponent.substr(exponent[0] == '-' || exponent[0] == '+' ? 1 : 0);
      exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
      s = mantissa + "e" + (negative ? "-" : "") + exponent;
    }
  } else {
    s = format("%.*f", decimals, v);
  }
  return s;
}

/// One axis: the data range it shows, linear or log10, its ticks, and where
/// its ends lie in pixels.
struct Scale {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  double px_lo = 0, px_hi = 1;

  double map(double v) const {
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    double px = px_lo + t * (px_hi - px_lo);
    // The data lie within [lo, hi]; the clamp only absorbs rounding.
    return std::clamp(px, std::min(px_lo, px_hi), std::max(px_lo, px_hi));
  }
  double widest_label() const {
    double w = 0;
    for (const auto& l : labels) w = std::max(w, text_width(l));
    return w;
  }
};

/// Ticks at the multiples of `step` within [lo, hi].
void linear_ticks(Scale* s, double step) {
  s->ticks.clear();
  s->labels.clear();
  // At most a few hundred ticks (linear_scale's range is wide enough for
  // that), so k never grows past where ++k stops changing it.
  int count = 0;
  for (double k = std::ceil(s->lo / step - 1e-9); k * step <= s->hi + step * 1e-9 && count < 1000; ++k, ++count) {
    double v = k == 0 ? 0.0 : k * step;  // no "-0"
    s->ticks.push_back(v);
    s->labels.push_back(tick_label(v, step, false));
  }
}

/// A linear scale over [lo, hi] with ticks at a 1-2-5 step, the largest
/// number of them (at most `max_ticks`, aiming at `target`) whose labels fit
/// `label_room` pixels each (0: any width). `integer`: whole-number ticks
/// only. `expand`: the ends move out to ticks. `clamp_lo`/`clamp_hi` bound the
/// expanded ends (accuracy never beyond [0, 1]).
Scale linear_scale(double lo, double hi, int target, bool integer, bool expand, double clamp_lo, double clamp_hi,
                   double pixels, double label_gap) {
  if (!(hi - lo > 1e-9 * std::max(std::fabs(lo), std::fabs(hi)))) {  // one value: a small range around it
    double d = integer ? 1 : std::max(std::fabs(lo) * 0.05, 1e-3);
    lo -= d;
    hi += d;
    if (lo < clamp_lo) hi = std::min(clamp_hi, hi + (clamp_lo - lo)), lo = clamp_lo;
    if (hi > clamp_hi) lo = std::max(clamp_lo, lo - (hi - clamp_hi)), hi = clamp_hi;
  }
  Scale s;
  double step = nice_step((hi - lo) / target);
  if (integer) step = std::max(step, 1.0);
  for (;;) {
    s.lo = expand ? std::max(clamp_lo, std::floor(lo / step + 1e-9) * step) : lo;
    s.hi = expand ? std::min(clamp_hi, std::ceil(hi / step - 1e-9) * step) : hi;
    linear_ticks(&s, step);
    // Widen the step until the labels leave `label_gap` between them.
    double needed = label_gap > 0 ? s.widest_label() + label_gap : kMinTickGap;
    if (s.ticks.size() < 2 || (s.hi - s.lo) / step * needed <= pixels) break;
    step = nice_step(step * 1.5);
  }
  return s;
}

/// A log10 scale over [lo, hi] (both > 0), its ends moved out to 1-2-5
/// values; ticks at 1, 2 and 5 per decade when there is room, else at powers
/// of ten (every n-th decade when even those would crowd).
Scale log_scale(double lo, double hi, double pixels) {
  auto down = [](double v) {
    double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {5.0, 2.0, 1.0})
      if (m * p <= v * (1 + 1e-9)) return m * p;
    return p;
  };
  auto up = [](double v) {
    double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (m * p >= v * (1 - 1e-9)) return m * p;
    return 10 * p;
  };
  Scale s;
  s.log = true;
  s.lo = down(lo);
  s.hi = up(hi);
  double decades = std::log10(s.hi / s.lo);
  double per_decade = pixels / decades;
  bool all_three = per_decade * std::log10(2.0) >= 22;  // 1, 2, 5 crowd sooner than a linear axis
  int every = per_decade >= kMinTickGap ? 1 : static_cast<int>(std::ceil(kMinTickGap / per_decade));
  for (int k = static_cast<int>(std::floor(std::log10(s.lo))); k <= static_cast<int>(std::ceil(std::log10(s.hi)));
       ++k) {
    if (k % every != 0) continue;
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1 && !all_three) continue;
      double v = m * std::pow(10.0, k);
      if (v < s.lo * (1 - 1e-9) || v > s.hi * (1 + 1e-9)) continue;
      s.ticks.push_back(v);
      s.labels.push_back(tick_label(v, 0, true));
    }
  }
  return s;
}

// --- curves and panels --------------------------------------------------

struct Point {
  double x, y;
};

struct Curve {
  std::string name;   ///< the polyline's class is "curve NAME"
  std::string label;  ///< in the legend
  std::string color;
  bool per_step = false;  ///< a thin line without markers
  std::vector<Point> points;  ///< finite values only
};

struct Panel {
  std::string name;  ///< "losses" or "metrics"
  std::string y_title;
  std::vector<Curve> curves;
  bool log_allowed = false;
  double clamp_lo = -INFINITY, clamp_hi = INFINITY;
  bool best_line = false;  ///< a dashed line at the best epoch (x = best_x)
  double best_x = 0;
};

const char* kStepColor = "#a9c9e8";
const char* kTrainColor = "#1f5fa8";
const char* kTestColor = "#e8710a";
const char* kValColor = "#2a9d3a";

void add_point(Curve* c, double x, double y) {
  if (std::isfinite(x) && std::isfinite(y)) c->points.push_back({x, y});
}

/// The per-update losses: one point per update, or past kMaxStepPoints
/// updates the mean of each group of k (see training_plot.h).
Curve step_curve(const TrainingHistory& h, const std::string& label) {
  Curve c{"step-loss", label, kStepColor, true, {}};
  const size_t n = h.step_losses.size();
  const size_t k = n > kMaxStepPoints ? (n + kMaxStepPoints - 1) / kMaxStepPoints : 1;
  for (size_t start = 0; start < n; start += k) {
    size_t end = std::min(n, start + k);
    double sum = 0;
    size_t finite = 0;
    for (size_t i = start; i < end; ++i)
      if (std::isfinite(h.step_losses[i])) sum += h.step_losses[i], ++finite;
    if (finite) add_point(&c, static_cast<double>(h.first_step + static_cast<int64_t>(end)), sum / finite);
  }
  return c;
}

struct Layout {
  double x_lo = 0, x_hi = 1;
  std::string x_title;
  double top = kPlotTop;  ///< the plot areas' top edge
};

/// One panel's SVG (a <g>), and how many legend rows it used.
std::string draw_panel(const Panel& p, const Layout& layout, double panel_x, int* legend_rows) {
  const double top = layout.top, bottom = top + kPlotHeight, legend_top = bottom + kLegendGap;
  // The y scale first: its labels set the left margin, hence the plot width.
  double y_lo = INFINITY, y_hi = -INFINITY;
  bool positive = true;
  for (const Curve& c : p.curves)
    for (const Point& pt : c.points) {
      y_lo = std::min(y_lo, pt.y);
      y_hi = std::max(y_hi, pt.y);
      positive = positive && pt.y > 0;
    }
  const bool empty = !(y_lo <= y_hi);
  if (empty) y_lo = 0, y_hi = 1;
  const bool log = p.log_allowed && !empty && positive && y_hi / y_lo > std::pow(10.0, kLogDecades) &&
                   y_lo > 1e-300 && y_hi < 1e300;  // 1-2-5 ends stay normal doubles
  Scale ys = log ? log_scale(y_lo, y_hi, kPlotHeight)
                 : linear_scale(y_lo, y_hi, 6, false, true, p.clamp_lo, p.clamp_hi, kPlotHeight, 0);
  ys.px_lo = bottom;
  ys.px_hi = top;
  const double left = panel_x + 34 + ys.widest_label() + 8;
  const double right = panel_x + kPanelWidth - kRightMargin;
  const double width = right - left;
  Scale xs = linear_scale(layout.x_lo, layout.x_hi, 6, true, false, -INFINITY, INFINITY, width, 16);
  xs.px_lo = left;
  xs.px_hi = right;

  std::string out = format("<g class=\"panel %s\">\n", p.name.c_str());
  out += format("<rect class=\"plot-area\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#ffffff\" "
                "stroke=\"#9a9a9a\"/>\n",
                left, top, width, kPlotHeight);
  // Grid lines, tick marks and labels.
  out += "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  for (double t : ys.ticks) {
    double y = ys.map(t);
    if (y > top + 0.5 && y < bottom - 0.5)
      out += format("<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", left, y, right, y);
  }
  for (double t : xs.ticks) {
    double x = xs.map(t);
    if (x > left + 0.5 && x < right - 0.5)
      out += format("<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, top, x, bottom);
  }
  out += "</g>\n";
  out += format("<g class=\"axes\" font-family=\"%s\" font-size=\"%g\" fill=\"#333333\">\n", kFont, kFontSize);
  for (size_t i = 0; i < ys.ticks.size(); ++i) {
    double y = ys.map(ys.ticks[i]);
    out += format("<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#9a9a9a\"/>\n", left - 4, y, left,
                  y);
    out += format("<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", left - 7, y + 4,
                  xml_text(ys.labels[i]).c_str());
  }
  for (size_t i = 0; i < xs.ticks.size(); ++i) {
    double x = xs.map(xs.ticks[i]);
    out += format("<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#9a9a9a\"/>\n", x, bottom, x,
                  bottom + 4);
    out += format("<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n", x, bottom + 18,
                  xml_text(xs.labels[i]).c_str());
  }
  out += format("<text class=\"x-title\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\">%s</text>\n",
                (left + right) / 2, bottom + 38, xml_text(layout.x_title).c_str());
  std::string y_title = p.y_title + (log ? ", log scale" : p.log_allowed ? ", linear scale" : "");
  out += format("<text class=\"y-title\" transform=\"translate(%.2f,%.2f) rotate(-90)\" text-anchor=\"middle\" "
                "font-size=\"13\">%s</text>\n",
                panel_x + 18, (top + bottom) / 2, xml_text(y_title).c_str());
  if (empty)
    out += format("<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" fill=\"#888888\">no epochs yet</text>\n",
                  (left + right) / 2, (top + bottom) / 2);
  out += "</g>\n";

  if (p.best_line && p.best_x >= xs.lo && p.best_x <= xs.hi) {
    double x = xs.map(p.best_x);
    out += format("<line class=\"best-epoch\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#666666\" "
                  "stroke-width=\"1\" stroke-dasharray=\"5,4\"/>\n",
                  x, top, x, bottom);
  }
  // The curves: per-update losses under the epoch curves.
  for (const Curve& c : p.curves) {
    if (c.points.empty()) continue;
    std::string pts;
    for (const Point& pt : c.points) pts += format("%s%.2f,%.2f", pts.empty() ? "" : " ", xs.map(pt.x), ys.map(pt.y));
    out += format("<polyline class=\"curve %s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" "
                  "stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"",
                  c.name.c_str(), c.color.c_str(), c.per_step ? "1" : "2");
    out += pts + "\"/>\n";
  }
  // Markers at the epochs while there is room for them.
  for (const Curve& c : p.curves) {
    if (c.per_step || c.points.empty() || c.points.size() > 60) continue;
    const double r = c.points.size() <= 30 ? 3.5 : 2.5;
    out += format("<g class=\"markers %s\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1\">\n", c.name.c_str(),
                  c.color.c_str());
    for (const Point& pt : c.points)
      out += format("<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\"/>\n", xs.map(pt.x), ys.map(pt.y), r);
    out += "</g>\n";
  }

  // The legend, in rows under the axis title.
  struct Entry {
    std::string label, color;
    bool thin, dashed;
  };
  std::vector<Entry> entries;
  for (const Curve& c : p.curves)
    entries.push_back({c.label + (c.points.empty() ? " (no finite values)" : ""), c.color, c.per_step, false});
  if (p.best_line) entries.push_back({"best epoch (lowest validation loss)", "#666666", true, true});
  out += format("<g class=\"legend\" font-family=\"%s\" font-size=\"%g\" fill=\"#333333\">\n", kFont, kFontSize);
  double x = left, y = legend_top;
  int rows = entries.empty() ? 0 : 1;
  for (const Entry& e : entries) {
    double w = 26 + 6 + text_width(e.label) + 18;
    if (x > left && x + w - 18 > right) {
      x = left;
      y += kLegendRow;
      ++rows;
    }
    out += format("<line class=\"swatch\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                  "stroke-width=\"%s\"%s/>\n",
                  x, y - 4, x + 26, y - 4, e.color.c_str(), e.thin ? (e.dashed ? "1" : "1.5") : "2",
                  e.dashed ? " stroke-dasharray=\"5,4\"" : "");
    if (!e.thin)
      out += format("<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"%s\" stroke=\"#ffffff\"/>\n", x + 13, y - 4,
                    e.color.c_str());
    out += format("<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", x + 32, y, xml_text(e.label).c_str());
    x += w;
  }
  out += "</g>\n</g>\n";
  *legend_rows = rows;
  return out;
}

/// What the run did and where it ended, as the parts of the summary line
/// (joined by "; "): "3 epochs, 1407 updates, 41.2 s" and "epoch 3: train
/// loss 0.4012, test loss 0.4321, test accuracy 0.8456".
std::vector<std::string> summary(const TrainingHistory& h) {
  if (h.epochs.empty()) return {h.step_losses.empty() ? "no epochs yet" : "no epoch finished yet"};
  const EpochRecord& last = h.epochs.back();
  const bool regression = h.task == Task::kRegression;
  std::vector<std::string> parts;
  const size_t n = h.epochs.size();
  std::string s;
  if (h.first_epoch > 0)
    s = format("epochs %lld\xE2\x80\x93%lld (resumed after epoch %lld)", static_cast<long long>(h.epochs.front().epoch),
               static_cast<long long>(last.epoch), static_cast<long long>(h.first_epoch));
  else
    s = format("%zu epoch%s", n, n == 1 ? "" : "s");
  if (!h.step_losses.empty()) s += format(", %zu updates", h.step_losses.size());
  double seconds = 0;
  for (const EpochRecord& r : h.epochs) seconds += r.seconds;
  if (seconds > 0) s += format(", %.1f s", seconds);
  if (h.stopped_early && h.best_epoch > 0)
    s += format(", stopped early (best epoch %lld)", static_cast<long long>(h.best_epoch));
  parts.push_back(s);
  s = format(regression ? "epoch %lld: train mse %.6g, " : "epoch %lld: train loss %.4f, ",
             static_cast<long long>(last.epoch), last.train_loss);
  s += metrics_text(last.test, "test");
  if (last.has_val) s += ", " + metrics_text(last.val, "val");
  parts.push_back(s);
  return parts;
}

/// `parts` joined by "; " on as few lines as fit the width at `size` (at
/// most `max_lines`; the last takes what is left).
std::vector<std::string> wrap(const std::vector<std::string>& parts, double size, size_t max_lines) {
  std::vector<std::string> lines;
  for (const std::string& p : parts) {
    if (!lines.empty() && (text_width(lines.back() + "; " + p, size) <= kWidth - 40 || lines.size() == max_lines))
      lines.back() += "; " + p;
    else
      lines.push_back(p);
  }
  return lines;
}

/// A centred line of text, shrunk (down to `min_size`) and then cut to fit.
std::string fitted_text(const std::string& text, double y, double size, double min_size, const char* extra) {
  const double room = kWidth - 40;
  double w = text_width(text, size) * 1.05;  // bold and headings run wider
  if (w > room) size = std::max(min_size, size * room / w);
  size_t max_chars = static_cast<size_t>(room / (kCharWidth * 1.05 * size / kFontSize));
  return format("<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"%.1f\"%s>", kWidth / 2, y, size,
                extra) +
         xml_text(truncated(text, max_chars)) + "</text>\n";
}

}  // namespace

std::string training_plot_svg(const TrainingHistory& h, const std::string& title) {
  const bool regression = h.task == Task::kRegression;
  const bool in_updates = h.steps_per_epoch > 0;
  bool has_val = false;
  for (const EpochRecord& r : h.epochs) has_val = has_val || r.has_val;
  auto epoch_x = [&](const EpochRecord& r) {
    return static_cast<double>(in_updates ? r.epoch * h.steps_per_epoch : r.epoch);
  };

  Panel losses{"losses", regression ? "mean squared error" : "loss (cross-entropy)", {}, true};
  const std::string what = regression ? "train MSE" : "train loss";
  if (in_updates && !h.step_losses.empty()) losses.curves.push_back(step_curve(h, what + ", each update"));
  Curve train{"train-loss", what + ", epoch mean", kTrainColor, false, {}};
  Curve test{regression ? "test-mse" : "test-loss", regression ? "test MSE" : "test loss", kTestColor, false, {}};
  Curve val{regression ? "val-mse" : "val-loss", regression ? "validation MSE" : "validation loss", kValColor, false,
            {}};
  Panel metrics{"metrics", regression ? "R\xC2\xB2" : "accuracy", {}, false};
  if (!regression) metrics.clamp_lo = 0;
  metrics.clamp_hi = 1;
  Curve test_m{regression ? "test-r2" : "test-accuracy", regression ? "test R\xC2\xB2" : "test accuracy", kTestColor,
               false, {}};
  Curve val_m{regression ? "val-r2" : "val-accuracy", regression ? "validation R\xC2\xB2" : "validation accuracy",
              kValColor, false, {}};
  for (const EpochRecord& r : h.epochs) {
    double x = epoch_x(r);
    add_point(&train, x, r.train_loss);
    add_point(&test, x, regression ? r.test.mse : r.test.loss);
    add_point(&test_m, x, regression ? r.test.r2 : r.test.accuracy);
    if (r.has_val) {
      add_point(&val, x, regression ? r.val.mse : r.val.loss);
      add_point(&val_m, x, regression ? r.val.r2 : r.val.accuracy);
    }
  }
  losses.curves.push_back(train);
  losses.curves.push_back(test);
  metrics.curves.push_back(test_m);
  if (has_val) {
    losses.curves.push_back(val);
    metrics.curves.push_back(val_m);
  }
  for (const EpochRecord& r : h.epochs)
    if (has_val && r.epoch == h.best_epoch) {
      losses.best_line = metrics.best_line = true;
      losses.best_x = metrics.best_x = epoch_x(r);
    }

  Layout layout;
  // Updates count from the run's first (the per-update curve starts there);
  // epochs from the first epoch drawn, leaving no empty epoch 0.
  layout.x_lo = static_cast<double>(in_updates ? h.first_step
                                    : h.epochs.size() >= 2 ? h.epochs.front().epoch
                                                           : h.first_epoch);
  layout.x_hi = layout.x_lo;
  for (const Panel* p : {&losses, &metrics})
    for (const Curve& c : p->curves)
      for (const Point& pt : c.points) {
        layout.x_lo = std::min(layout.x_lo, pt.x);
        layout.x_hi = std::max(layout.x_hi, pt.x);
      }
  if (in_updates && !h.step_losses.empty())
    layout.x_hi = std::max(layout.x_hi, static_cast<double>(h.first_step + static_cast<int64_t>(h.step_losses.size())));
  if (!(layout.x_hi > layout.x_lo)) layout.x_hi = layout.x_lo + 1;
  layout.x_title = in_updates ? format("update (%lld per epoch)", static_cast<long long>(h.steps_per_epoch))
                              : std::string("epoch");

  const std::vector<std::string> lines = wrap(summary(h), 13, 2);
  layout.top = kPlotTop + kSummaryRow * static_cast<double>(lines.size() - 1);
  int rows_a = 0, rows_b = 0;
  std::string panel_a = draw_panel(losses, layout, 0, &rows_a);
  std::string panel_b = draw_panel(metrics, layout, kPanelWidth, &rows_b);
  const double height =
      layout.top + kPlotHeight + kLegendGap + kLegendRow * (std::max(std::max(rows_a, rows_b), 1) - 1) + 16;

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += format("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%g\" height=\"%g\" "
                "viewBox=\"0 0 %g %g\" font-family=\"%s\">\n",
                kWidth, height, kWidth, height, kFont);
  svg += "<title>" + xml_text(title) + "</title>\n";
  svg += format("<rect class=\"background\" x=\"0\" y=\"0\" width=\"%g\" height=\"%g\" fill=\"#ffffff\"/>\n", kWidth,
                height);
  svg += fitted_text(title, kTitleY, 18, 11, " class=\"title\" font-weight=\"bold\" fill=\"#222222\"");
  for (size_t i = 0; i < lines.size(); ++i)
    svg += fitted_text(lines[i], kSummaryY + kSummaryRow * static_cast<double>(i), 13, 9,
                       " class=\"summary\" fill=\"#555555\"");
  svg += panel_a + panel_b + "</svg>\n";
  return svg;
}

void write_training_plot(const TrainingHistory& h, const std::string& path, const std::string& title) {
  write_file_atomic(path, training_plot_svg(h, title));
}

}  // namespace dlc

// Line charts on cairo: the figure is drawn into a PNG image or an SVG
// surface streamed into memory, then written in one atomic step.
#include "nabla/plot/figure.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "nabla/io/file.h"
#include "nabla/tensor/error.h"

namespace nabla::plot {

namespace {

// Tableau's ten colours (matplotlib's default cycle).
constexpr double kPalette[10][3] = {{0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
                                    {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
                                    {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
                                    {0.090, 0.745, 0.812}};

const double* colour_of(const Series& s) { return kPalette[((s.color % 10) + 10) % 10]; }

// A dashed line's pattern (on, off), or a solid one.
void set_dash(cairo_t* cr, bool dashed) {
  const double dash[] = {6.0, 4.0};
  cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool empty() const { return !(lo <= hi); }
};

bool usable(double x, double y, const Panel& p) {
  return std::isfinite(x) && std::isfinite(y) && (!p.log_x || x > 0) && (!p.log_y || y > 0);
}

// Ticks at 1, 2 or 5 times a power of ten, about `want` of them over [lo, hi];
// the range widens to whole ticks.
std::vector<double> nice_ticks(double& lo, double& hi, int want) {
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {  // one value: a unit around it
    const double pad = std::max(std::abs(lo) * 0.1, 1e-3);
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / want, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  lo = std::floor(lo / step + 1e-9) * step, hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> t;
  for (double v = lo; v <= hi + step * 1e-6; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

// A logarithmic axis (lo, hi in log10 units): ticks at 1, 2 and 5 times powers
// of ten that fall inside, thinned to powers of ten (then to every other one)
// when there are too many; linear ticks of the logarithm when fewer than 2 fit.
std::vector<double> log_ticks(double& lo, double& hi, int want) {
  for (const std::vector<double>& mantissas : {std::vector<double>{1, 2, 5}, std::vector<double>{1}}) {
    std::vector<double> t;
    for (double k = std::floor(lo) - 1; k <= std::ceil(hi) + 1; ++k)
      for (double m : mantissas) {
        const double v = k + std::log10(m);
        if (v >= lo - 1e-9 && v <= hi + 1e-9) t.push_back(v);
      }
    if (t.size() < 2) break;
    if (static_cast<int>(t.size()) <= want + 2) return t;
    if (mantissas.size() == 1) {
      std::vector<double> every_other;
      for (size_t i = 0; i < t.size(); i += 2) every_other.push_back(t[i]);
      return every_other;
    }
  }
  return nice_ticks(lo, hi, want);
}

std::string tick_label(double v) {
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) return fmt::format("{:.0e}", v);
  std::string s = fmt::format("{:.4f}", v);
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

void text_at(cairo_t* cr, const std::string& s, double x, double y, double ax, double ay, double size) {
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - e.x_bearing - ax * e.width, y - e.y_bearing - ay * e.height);
  cairo_show_text(cr, s.c_str());
}

void draw_panel(cairo_t* cr, const Panel& p, double x0, double w, double h) {
  const double left = x0 + 70, right = x0 + w - 16, top = 38, bottom = h - 52;
  Range xr, yr;
  for (const Series& s : p.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.x[i], s.y[i], p)) {
        xr.add(p.log_x ? std::log10(s.x[i]) : s.x[i]);
        yr.add(p.log_y ? std::log10(s.y[i]) : s.y[i]);
      }
  NABLA_CHECK(!xr.empty(), "plot: panel '{}' has no finite point to draw", p.title);
  std::vector<double> xt = p.log_x ? log_ticks(xr.lo, xr.hi, 6) : nice_ticks(xr.lo, xr.hi, 6);
  std::vector<double> yt = p.log_y ? log_ticks(yr.lo, yr.hi, 5) : nice_ticks(yr.lo, yr.hi, 5);
  const double xpad = 0.02 * (xr.hi - xr.lo);  // room for the end points' markers
  auto px_raw = [&](double t) { return left + (t - xr.lo + xpad) / (xr.hi - xr.lo + 2 * xpad) * (right - left); };
  auto px = [&](double v) { return px_raw(p.log_x ? std::log10(v) : v); };
  auto py = [&](double v) { return bottom - ((p.log_y ? std::log10(v) : v) - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };
  auto py_raw = [&](double t) { return bottom - (t - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };

  // Grid and ticks.
  cairo_set_line_width(cr, 1.0);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  for (double t : xt) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, px_raw(t), top), cairo_line_to(cr, px_raw(t), bottom), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text_at(cr, tick_label(p.log_x ? std::pow(10.0, t) : t), px_raw(t), bottom + 6, 0.5, 0.0, 11);
  }
  for (double t : yt) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, left, py_raw(t)), cairo_line_to(cr, right, py_raw(t)), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text_at(cr, tick_label(p.log_y ? std::pow(10.0, t) : t), left - 6, py_raw(t), 1.0, 0.5, 11);
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_stroke(cr);
  text_at(cr, p.title, (left + right) / 2, 12, 0.5, 0.0, 14);
  text_at(cr, p.x_label, (left + right) / 2, h - 20, 0.5, 0.0, 12);
  cairo_save(cr);
  cairo_translate(cr, x0 + 16, (top + bottom) / 2);
  cairo_rotate(cr, -M_PI / 2);
  text_at(cr, p.y_label, 0, 0, 0.5, 0.5, 12);
  cairo_restore(cr);

  // The series, clipped to the axes.
  cairo_save(cr);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_clip(cr);
  for (const Series& s : p.series) {
    const double* c = colour_of(s);
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, 2.0);
    set_dash(cr, s.dashed);
    bool pen_down = false;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.x[i], s.y[i], p)) {
        pen_down = false;
        continue;
      }
      if (pen_down) cairo_line_to(cr, px(s.x[i]), py(s.y[i]));
      else cairo_move_to(cr, px(s.x[i]), py(s.y[i]));
      pen_down = true;
    }
    cairo_stroke(cr);
    set_dash(cr, false);
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.x[i], s.y[i], p)) {
        cairo_arc(cr, px(s.x[i]), py(s.y[i]), 2.5, 0, 2 * M_PI);
        cairo_fill(cr);
      }
  }
  cairo_restore(cr);

  // Legend inside the axes, in the corner its box hides the fewest points of.
  double lw = 0;
  cairo_set_font_size(cr, 11);
  for (const Series& s : p.series) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.label.c_str(), &e);
    lw = std::max(lw, e.x_advance);
  }
  if (p.series.empty() || lw == 0) return;
  const double box_w = lw + 46, box_h = 16.0 * static_cast<double>(p.series.size()) + 6;
  double lx = right - box_w + 6, ly = top + 10;
  int64_t fewest = -1;
  for (int corner = 0; corner < 4; ++corner) {  // top right, bottom right, top left, bottom left
    const double cx = corner < 2 ? right - box_w - 4 : left + 10, cy = corner % 2 == 0 ? top + 10 : bottom - box_h - 4;
    int64_t hidden = 0;
    for (const Series& s : p.series)
      for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
        if (usable(s.x[i], s.y[i], p)) {
          const double X = px(s.x[i]), Y = py(s.y[i]);
          hidden += X >= cx - 10 && X <= cx + box_w + 10 && Y >= cy - 10 && Y <= cy + box_h + 10;
        }
    if (fewest < 0 || hidden < fewest) fewest = hidden, lx = cx + 6, ly = cy + 6;
  }
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, lx - 6, ly - 6, box_w, box_h);
  cairo_fill(cr);
  for (const Series& s : p.series) {
    const double* c = colour_of(s);
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    set_dash(cr, s.dashed);
    cairo_move_to(cr, lx, ly + 5), cairo_line_to(cr, lx + 28, ly + 5), cairo_stroke(cr);
    set_dash(cr, false);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_at(cr, s.label, lx + 34, ly + 5, 0.0, 0.5, 11);
    ly += 16;
  }
}

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

}  // namespace

void save_figure(const std::vector<Panel>& panels, const std::string& path, int panel_width, int height) {
  NABLA_CHECK(!panels.empty(), "plot: nothing to draw into '{}'", path);
  NABLA_CHECK(panel_width >= 100 && height >= 100 && panel_width <= 8000 && height <= 8000,
              "plot: panels of {} x {} pixels (expected 100 to 8000 each way)", panel_width, height);
  auto ends = [&](const char* ext) { return path.size() >= 4 && path.compare(path.size() - 4, 4, ext) == 0; };
  const bool svg = ends(".svg");
  NABLA_CHECK(svg || ends(".png"), "plot: '{}': the picture's name must end in .png or .svg", path);
  const int width = panel_width * static_cast<int>(panels.size());
  std::string bytes;
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(
      svg ? cairo_svg_surface_create_for_stream(append, &bytes, width, height)
          : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height));
  NABLA_CHECK(cairo_surface_status(surface.get()) == CAIRO_STATUS_SUCCESS, "plot: cairo cannot make a {} x {} surface: {}",
              width, height, cairo_status_to_string(cairo_surface_status(surface.get())));
  {
    std::unique_ptr<cairo_t, ContextDeleter> cr(cairo_create(surface.get()));
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    for (size_t i = 0; i < panels.size(); ++i)
      draw_panel(cr.get(), panels[i], static_cast<double>(panel_width) * static_cast<double>(i), panel_width, height);
    NABLA_CHECK(cairo_status(cr.get()) == CAIRO_STATUS_SUCCESS, "plot: drawing failed: {}",
                cairo_status_to_string(cairo_status(cr.get())));
  }
  if (svg) {
    cairo_surface_finish(surface.get());  // flushes the SVG into `bytes`
  } else {
    const cairo_status_t st = cairo_surface_write_to_png_stream(surface.get(), append, &bytes);
    NABLA_CHECK(st == CAIRO_STATUS_SUCCESS, "plot: PNG encoding failed: {}", cairo_status_to_string(st));
  }
  io::write_file_atomic(path, bytes);
}

}  // namespace nabla::plot

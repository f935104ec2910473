#pragma once
// Line charts drawn with cairo into PNG or SVG files: panels side by side,
// each with axes, ticks, a grid, labelled series and a legend.
#include <string>
#include <vector>

namespace nabla::plot {

/// One line: points (x[i], y[i]); NaN or infinite points are skipped (a gap).
struct Series {
  std::string label;
  std::vector<double> x, y;
  int color = 0;        ///< index into the palette (Tableau's ten colours), so related lines can share one
  bool dashed = false;  ///< e.g. training curves beside solid test curves
};

/// One chart: its series over shared axes. log_x, log_y: logarithmic axes (positive values only).
struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_x = false, log_y = false;
};

/// Draws `panels` side by side into `path`: PNG (".png") or SVG (".svg"),
/// `panel_width` x `height` pixels (points for SVG) each. A clear error for
/// another extension, a file that cannot be written or a panel with no
/// finite point. The file is written to a temporary name and renamed, so a
/// failed write never leaves a half-written picture in its place.
void save_figure(const std::vector<Panel>& panels, const std::string& path, int panel_width = 560, int height = 420);

}  // namespace nabla::plot

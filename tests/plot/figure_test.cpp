// nabla's pictures: PNG files that decode (cairo reads them back) at the
// asked size with the series' colours in them, SVG files that are whole
// documents, run folders read into curves, and clear errors that leave an
// earlier picture in place.
#include <gtest/gtest.h>

#include <cairo.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "nabla/nabla.h"
#include "nabla/plot/curves.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("nabla_plot_test_" + std::to_string(::getpid())) / name;
  fs::create_directories(d.parent_path());
  return d;
}

void write_run(const fs::path& dir, int epochs, double scale, bool text = false) {
  fs::create_directories(dir);
  std::ofstream f(dir / "metrics.jsonl");
  for (int e = 1; e <= epochs; ++e) {
    const double d = std::sqrt(static_cast<double>(e));
    f << "{\"epoch\":" << e << ",\"train_loss\":" << scale * 2 / d << ",\"train_acc\":" << 1 - 0.5 / d
      << ",\"test_loss\":" << scale * 2.1 / d << ",\"test_acc\":" << 1 - 0.55 / d;
    if (text) f << ",\"test_bpc\":" << scale * 3 / d;
    f << "}\n";
  }
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(Plot, PngDecodesAtItsSizeWithTheSeriesColours) {
  const fs::path a = scratch("png_a"), b = scratch("png_b"), out = scratch("curves.png");
  write_run(a, 10, 1.0);
  write_run(b, 6, 1.4);
  plot::save_figure(plot::training_curves({a.string(), b.string()}), out.string(), 500, 400);
  cairo_surface_t* img = cairo_image_surface_create_from_png(out.c_str());
  ASSERT_EQ(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
  EXPECT_EQ(cairo_image_surface_get_width(img), 1000);  // two panels
  EXPECT_EQ(cairo_image_surface_get_height(img), 400);
  // Count pixels near the palette's first two colours (runs 0 and 1) and the white background.
  const unsigned char* px = cairo_image_surface_get_data(img);
  const int stride = cairo_image_surface_get_stride(img);
  int64_t blue = 0, orange = 0, white = 0;
  for (int y = 0; y < 400; ++y)
    for (int x = 0; x < 1000; ++x) {
      const unsigned char* p = px + y * stride + 4 * x;  // B, G, R, A in memory on little-endian
      auto near = [&](int r, int g, int bb) { return std::abs(p[2] - r) < 12 && std::abs(p[1] - g) < 12 && std::abs(p[0] - bb) < 12; };
      blue += near(31, 119, 180), orange += near(255, 127, 14), white += near(255, 255, 255);
    }
  cairo_surface_destroy(img);
  EXPECT_GT(blue, 500);
  EXPECT_GT(orange, 500);
  EXPECT_GT(white, 1000 * 400 / 2);
}

TEST(Plot, SvgIsAWholeDocument) {
  const fs::path a = scratch("svg_a"), out = scratch("curves.svg");
  write_run(a, 5, 1.0, true);
  plot::save_figure(plot::training_curves({a.string()}, {"gpt"}), out.string());
  const std::string s = slurp(out);
  EXPECT_EQ(s.rfind("<?xml", 0), 0u);
  EXPECT_NE(s.find("width=\"1120pt\" height=\"420pt\""), std::string::npos);
  EXPECT_NE(s.find("<path"), std::string::npos);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
}

TEST(Plot, RunsBecomeLossAndAccuracyPanels) {
  const fs::path a = scratch("curves_a"), t = scratch("curves_text");
  write_run(a, 4, 1.0);
  write_run(t, 3, 1.0, true);
  auto ms = plot::read_metrics(a.string());
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_EQ(ms[3].epoch, 4);
  EXPECT_NEAR(ms[3].test_loss, 2.1 / 2, 1e-9);
  auto panels = plot::training_curves({a.string(), t.string()}, {"img", "txt"});
  ASSERT_EQ(panels.size(), 2u);
  ASSERT_EQ(panels[0].series.size(), 4u);  // train and test per run
  EXPECT_EQ(panels[0].series[0].label, "img train");
  EXPECT_TRUE(panels[0].series[0].dashed);
  EXPECT_EQ(panels[0].series[2].color, 1);
  EXPECT_EQ(panels[0].y_label, "nats per character");  // a text run among them
  EXPECT_EQ(panels[0].series[3].label, "txt validation");
  EXPECT_EQ(panels[1].series[1].y, (std::vector<double>{ms[0].test_acc, ms[1].test_acc, ms[2].test_acc, ms[3].test_acc}));
}

TEST(Plot, BadInputIsRefusedAndAnEarlierPictureStays) {
  const fs::path a = scratch("bad_a"), out = scratch("keep.png");
  write_run(a, 3, 1.0);
  plot::save_figure(plot::training_curves({a.string()}), out.string());
  const std::string before = slurp(out);
  plot::Panel empty{"nothing", "x", "y", {plot::Series{"nan", {1, 2}, {NAN, NAN}}}};
  EXPECT_NE(error_of([&] { plot::save_figure({empty}, out.string()); }).find("no finite point"), std::string::npos);
  EXPECT_EQ(slurp(out), before);
  EXPECT_NE(error_of([&] { plot::save_figure(plot::training_curves({a.string()}), scratch("x.jpg").string()); })
                .find(".png or .svg"),
            std::string::npos);
  EXPECT_NE(error_of([&] { plot::read_metrics(scratch("missing").string()); }).find("cannot read"), std::string::npos);
  const fs::path broken = scratch("broken");
  fs::create_directories(broken);
  std::ofstream(broken / "metrics.jsonl") << "{\"epoch\":1,\"test_loss\":1}\n{\"epoch\":2,\"test_lo";
  EXPECT_NE(error_of([&] { plot::read_metrics(broken.string()); }).find("line 2"), std::string::npos);
  const fs::path blank = scratch("blank");
  fs::create_directories(blank);
  std::ofstream(blank / "metrics.jsonl") << "\n";
  EXPECT_NE(error_of([&] { plot::read_metrics(blank.string()); }).find("no epochs"), std::string::npos);
  EXPECT_NE(error_of([&] { plot::training_curves({a.string()}, {"one", "two"}); }).find("2 labels for 1 runs"),
            std::string::npos);
}

}  // namespace

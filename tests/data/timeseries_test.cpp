#include "nabla/data/timeseries.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "nabla/data/readers.h"
#include "nabla/io/file.h"
#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;
namespace fs = std::filesystem;

namespace {

std::string tmpdir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("nabla_ts_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string p = dir + "/" + name;
  io::write_file_atomic(p, text);
  return p;
}

float at(const Tensor& x, int64_t i, int64_t c, int64_t t) { return x.contiguous().const_data<float>()[(i * x.size(1) + c) * x.size(2) + t]; }

}  // namespace

TEST(UcrTsv, ReadsLabelsFirstAndPadsShortSeriesWithNaN) {
  const std::string d = tmpdir("tsv");
  // Tabs as in the 2018 archive, a NaN-padded short series, and a comma-separated line as in 2015's.
  auto f = data::read_ucr_tsv(write(d, "X.tsv", "1\t0.5\t-1.25\t3\t4\n-1\t2\t3\tNaN\tNaN\n\n1,7,8,9,10\n"));
  ASSERT_EQ(f.values.sizes(), (Shape{3, 1, 4}));
  EXPECT_EQ(f.labels, (std::vector<std::string>{"1", "-1", "1"}));
  EXPECT_FLOAT_EQ(at(f.values, 0, 0, 1), -1.25f);
  EXPECT_FLOAT_EQ(at(f.values, 1, 0, 1), 3.0f);
  EXPECT_TRUE(std::isnan(at(f.values, 1, 0, 2)));
  EXPECT_FLOAT_EQ(at(f.values, 2, 0, 3), 10.0f);
  EXPECT_EQ(data::series_lengths(f.values).to_vector<int64_t>(), (std::vector<int64_t>{4, 2, 4}));
  fs::remove_all(d);
}

TEST(UcrTsv, RefusesBadFilesClearly) {
  const std::string d = tmpdir("tsv_bad");
  EXPECT_NE(error_of([&] { data::read_ucr_tsv(write(d, "a.tsv", "1\t0.5\tabc\n")); }).find("'abc' is not a number"),
            std::string::npos);
  EXPECT_NE(error_of([&] { data::read_ucr_tsv(write(d, "b.tsv", "1\n")); }).find("no values"), std::string::npos);
  EXPECT_NE(error_of([&] { data::read_ucr_tsv(write(d, "c.tsv", "")); }).find("no series"), std::string::npos);
  EXPECT_NE(error_of([&] { data::read_ucr_tsv(write(d, "d.tsv", "1\t1e300\n")); }).find("not a finite f32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { data::read_ucr_tsv(d + "/missing.tsv"); }), "");
  // One long series among many short ones would be almost all padding: refused, not allocated.
  std::string bomb = "1";
  for (int i = 0; i < 200000; ++i) bomb += "\t1";
  bomb += "\n";
  for (int i = 0; i < 400; ++i) bomb += "1\t2\n";
  EXPECT_NE(error_of([&] { data::read_ucr_tsv(write(d, "e.tsv", bomb)); }).find("mostly padding"), std::string::npos);
  fs::remove_all(d);
}

TEST(TsFormat, ReadsMultivariateUnequalLengthsMissingValuesAndNamedClasses) {
  const std::string d = tmpdir("ts");
  const std::string text =
      "# a comment\n@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n"
      "@equalLength false\n@classLabel true walk run\n@data\n"
      "1,2,3:4,5,6:walk\n"
      "7,?,9,10:11,12:run\n";
  auto f = data::read_ts(write(d, "Toy_TRAIN.ts", text));
  ASSERT_EQ(f.values.sizes(), (Shape{2, 2, 4}));
  EXPECT_EQ(f.labels, (std::vector<std::string>{"walk", "run"}));
  EXPECT_FLOAT_EQ(at(f.values, 0, 1, 2), 6.0f);
  EXPECT_TRUE(std::isnan(at(f.values, 0, 0, 3)));  // padding
  EXPECT_TRUE(std::isnan(at(f.values, 1, 0, 1)));  // '?'
  EXPECT_FLOAT_EQ(at(f.values, 1, 0, 3), 10.0f);
  EXPECT_TRUE(std::isnan(at(f.values, 1, 1, 2)));
  EXPECT_EQ(data::series_lengths(f.values).to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
  fs::remove_all(d);
}

TEST(TsFormat, RefusesWhatItCannotRead) {
  const std::string d = tmpdir("ts_bad");
  auto err = [&](const std::string& text) { return error_of([&] { data::read_ts(write(d, "x.ts", text)); }); };
  EXPECT_NE(err("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n").find("time-stamped"), std::string::npos);
  EXPECT_NE(err("@classLabel false\n@data\n1,2\n").find("only labelled"), std::string::npos);
  EXPECT_NE(err("@classLabel true a b\n").find("no @data"), std::string::npos);
  EXPECT_NE(err("@classLabel true a b\n@data\n1,2:c\n").find("not among"), std::string::npos);
  EXPECT_NE(err("@classLabel true a\n@data\n1,2:a\n1:2:a\n").find("dimensions"), std::string::npos);
  EXPECT_NE(err("1,2:a\n").find("expected an @ header"), std::string::npos);
  EXPECT_NE(err("@classLabel true a\n@data\n1,x:a\n").find("not a number"), std::string::npos);
  fs::remove_all(d);
}

TEST(UcrDir, PairsTrainAndTestAndMapsLabelsInNumericOrder) {
  const std::string d = tmpdir("dir");
  write(d, "Toy_TRAIN.tsv", "10\t1\t2\t3\n2\t4\t5\t6\n");
  write(d, "Toy_TEST.tsv", "2\t1\t1\n10\t2\t2\t2\t2\n-3\t0\t0\t0\n");
  data::Splits s = data::load_data_spec("ucr:" + d);
  EXPECT_EQ(s.name, "Toy");
  EXPECT_EQ(s.classes, (std::vector<std::string>{"-3", "2", "10"}));
  EXPECT_EQ(s.train->labels().to_vector<int64_t>(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(s.test->labels().to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 0}));
  // Both splits take the longer length, so one model reads both.
  EXPECT_EQ(s.train->inputs().sizes(), (Shape{2, 1, 4}));
  EXPECT_EQ(s.test->inputs().sizes(), (Shape{3, 1, 4}));
  EXPECT_EQ(s.train->num_classes(), 3);
  const std::string e = tmpdir("dir_empty");
  EXPECT_NE(error_of([&] { data::load_data_spec("ucr:" + e); }).find("NAME_TRAIN.tsv"), std::string::npos);
  fs::remove_all(d);
  fs::remove_all(e);
}

TEST(SyntheticSeries, HaveTheArchiveSizesRepeatForASeedAndBalanceTheClasses) {
  struct Want {
    const char* spec;
    int64_t train, test, length, classes;
  };
  for (const Want& w : {Want{"cbf", 30, 900, 128, 3}, Want{"synthetic-control", 300, 300, 60, 6},
                        Want{"two-patterns", 1000, 4000, 128, 4}}) {
    data::Splits a = data::load_data_spec(w.spec), b = data::load_data_spec(w.spec + std::string(":0")),
                 c = data::load_data_spec(w.spec + std::string(":1"));
    EXPECT_EQ(a.train->inputs().sizes(), (Shape{w.train, 1, w.length})) << w.spec;
    EXPECT_EQ(a.test->inputs().sizes(), (Shape{w.test, 1, w.length})) << w.spec;
    EXPECT_EQ(int64_t(a.classes.size()), w.classes);
    EXPECT_EQ(a.train->inputs().to_vector<float>(), b.train->inputs().to_vector<float>()) << w.spec;
    EXPECT_NE(a.train->inputs().to_vector<float>(), c.train->inputs().to_vector<float>()) << w.spec;
    std::vector<int64_t> counts(w.classes, 0);
    for (int64_t label : a.test->labels().to_vector<int64_t>()) ++counts.at(label);
    EXPECT_EQ(*std::max_element(counts.begin(), counts.end()) - *std::min_element(counts.begin(), counts.end()),
              w.test % w.classes ? 1 : 0)
        << w.spec;
  }
  EXPECT_NE(error_of([] { data::load_data_spec("cbf:x"); }).find("non-negative integer seed"), std::string::npos);
}

TEST(SyntheticSeries, CarryTheirClassesSignatures) {
  // Two Patterns: the order of -5 and +5 in each half names the class (down-down, up-down, down-up, up-up).
  data::Splits tp = data::two_patterns(3, 200, 10);
  Tensor x = tp.train->inputs().contiguous();
  std::vector<int64_t> y = tp.train->labels().to_vector<int64_t>();
  for (int64_t i = 0; i < 200; ++i) {
    const float* s = x.const_data<float>() + i * 128;
    int64_t cls = 0;
    for (int half = 0; half < 2; ++half)
      for (int64_t t = half * 64; t < half * 64 + 64; ++t)
        if (s[t] == -5.0f || s[t] == 5.0f) {
          if (s[t] == -5.0f) cls += half == 0 ? 1 : 2;  // up starts low
          break;
        }
    EXPECT_EQ(cls, y[i]) << "series " << i;
  }
  // Synthetic Control: the trends' slopes have their signs; CBF: the bell rises, the funnel falls.
  data::Splits sc = data::synthetic_control(2, 60, 6);
  Tensor t = arange(60, DType::f32) - 29.5;
  Tensor slope = matmul(sc.train->inputs().reshape({60, 60}), t);
  std::vector<float> sl = slope.to_vector<float>();
  std::vector<int64_t> sy = sc.train->labels().to_vector<int64_t>();
  for (int64_t i = 0; i < 60; ++i) {
    if (sy[i] == 2) {
      EXPECT_GT(sl[i], 0) << i;
    }
    if (sy[i] == 3) {
      EXPECT_LT(sl[i], 0) << i;
    }
  }
  data::Splits cbf = data::cylinder_bell_funnel(1, 300, 3);
  std::vector<float> cx = cbf.train->inputs().to_vector<float>();
  std::vector<int64_t> cy = cbf.train->labels().to_vector<int64_t>();
  // Averaged over examples, the bell (1) is higher late in its event than early; the funnel (2) the reverse.
  double early[3] = {}, late[3] = {};
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t t = 0; t < 20; ++t) {
      early[cy[i]] += cx[i * 128 + 20 + t];
      late[cy[i]] += cx[i * 128 + 60 + t];
    }
  EXPECT_GT(late[1], early[1]);
  EXPECT_LT(late[2], early[2]);
}

TEST(SyntheticSeries, ImagesBecomeMultivariateSeries) {
  Tensor img = from_vector<uint8_t>({0, 255, 51, 102, 10, 20, 30, 40}, {2, 1, 2, 2});
  auto d = std::make_shared<data::TensorDataset>(img, from_vector<int64_t>({0, 1}, {2}), 2);
  data::Splits s = data::images_as_series({d, d, "toy"});
  ASSERT_EQ(s.train->inputs().sizes(), (Shape{2, 2, 2}));
  EXPECT_EQ(s.name, "toy-series");
  EXPECT_FLOAT_EQ(at(s.train->inputs(), 0, 1, 0), 51.0f / 255.0f);
  EXPECT_FLOAT_EQ(at(s.train->inputs(), 0, 0, 1), 1.0f);
}
